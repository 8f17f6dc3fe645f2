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


def condition_ev(self, conds):
    """Profile.condition_ev before the per-profile rows: a new row per citation."""
    from clinical_core import evidence as ev
    return [ev.condition(c) for c in conds]


def age_at_first_omalizumab(p):
    """recommend.age_at_first_omalizumab before build_profile kept the first start: a scan of the medications."""
    b = p.facts.birth_date
    starts = [m.start for m in p.facts.medications_of(agent="omalizumab") if m.start is not None]
    if b is None or not starts:
        return None
    first = min(starts)
    return first.year - b.year - ((first.month, first.day) < (b.month, b.day))
