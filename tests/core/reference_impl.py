"""The clinical core's functions as they were before their fast paths (commit fc83422): the references
the differential tests in test_fast_paths.py swap in and compare with, on every demo patient and on
generated facts.  Not used by the service."""
from __future__ import annotations

from clinical_core.decisions import Evidence


def profile_ev(self, *keys: str) -> tuple[Evidence, ...]:
    out: dict[Evidence, None] = {}
    for k in keys:
        f = self.findings.get(k)
        if f:
            out.update(dict.fromkeys(f.evidence))
    return tuple(out)


def uniq(items) -> tuple:
    return tuple(dict.fromkeys(i for i in items if i))


def unique(rows) -> tuple:
    """evidence.unique / recommend._uniq_ev before the C-hashed form: the Evidence rows themselves as keys."""
    return tuple(dict.fromkeys(rows))
