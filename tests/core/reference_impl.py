"""The clinical core's functions as they were before their fast paths (commit fc83422): the references
the differential tests in test_fast_paths.py swap in and compare with, on every demo patient and on
generated facts.  Not used by the service."""
from __future__ import annotations

from clinical_core.decisions import Evidence, PhenotypeFinding
from clinical_core.evidence import day, unit_text


def fmt_num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def value_text(m, *, decimals=None) -> str:
    v = round(m.value, decimals) if decimals is not None else m.value
    return f"{m.comparator or ''}{fmt_num(v)} {unit_text(m.unit)}".strip()


def measurement(label: str, m, *, decimals=None, note: str = "") -> Evidence:
    original = None
    if m.original_value is not None and (m.original_unit != m.unit or m.original_value != m.value):
        original = f"{m.comparator or ''}{fmt_num(m.original_value)} {m.original_unit or ''}".strip()
    elif m.derived_from:
        original = "computed from " + ", ".join(r.reference for r in m.derived_from)
    value = value_text(m, decimals=decimals) + (f" ({note})" if note else "")
    return Evidence(label, value, day(m.when), m.source.reference, original)


def add(p, key: str, status: str, evidence=(), missing=(), note: str = "") -> None:
    p.findings[key] = PhenotypeFinding(key, status, tuple(dict.fromkeys(evidence)), tuple(missing), note)


def profile_ev(self, *keys: str) -> tuple[Evidence, ...]:
    out: dict[Evidence, None] = {}
    for k in keys:
        f = self.findings.get(k)
        if f:
            out.update(dict.fromkeys(f.evidence))
    return tuple(out)


def conditions_of(self, *concepts: str):
    return tuple(c for c in self.conditions if c.concept in concepts)


def medications_of(self, *, agent=None, drug_class=None, active_only=False):
    return tuple(
        m for m in self.medications
        if (agent is None or m.agent == agent)
        and (drug_class is None or m.drug_class == drug_class)
        and (m.is_active or not active_only)
    )


# --- forms before the second round of fast paths (commit e6515af) ---------------------------------

from decimal import ROUND_HALF_UP, Decimal  # noqa: E402


def round_weight(kg: float) -> float:
    return float(Decimal(str(kg)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def profile_present(self, key: str) -> bool:
    return self.status(key) == "present"


def uniq(items) -> tuple:
    return tuple(dict.fromkeys(i for i in items if i))
