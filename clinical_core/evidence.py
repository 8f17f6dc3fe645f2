"""Turn facts into `Evidence` rows: value in its canonical unit (comparator kept), date, resource, original.

Every decision cites the facts it used in this one format, so the card's facts table reads the
same whatever rule produced it.
"""
from __future__ import annotations

import dataclasses
from datetime import date, datetime
from operator import attrgetter

from .dosing import fmt_num
from .facts import AllergyFact, BloodPressure, ConditionFact, Measurement, MedicationFact, SpecificIge
from .decisions import Evidence
from ._fast_init import maker

# Evidence(...) without the generic class call (the same object: see _fast_init.maker); a dozen rows
# are built per assessment
new_evidence = maker(Evidence)

# canonical UCUM unit -> how a clinician writes it
DISPLAY_UNITS: dict[str, str] = {
    "[IU]/mL": "IU/mL",
    "k[IU]/L": "kU/L",
    "/uL": "cells/µL",
    "10*3/uL": "x10³/µL",
    "pg/mg{creat}": "pg/mg creatinine",
    "kg": "kg",
    "mL/min/{1.73_m2}": "mL/min/1.73 m²",
    "mm[Hg]": "mmHg",
}


# An Evidence's field values, as one tuple: exactly what its dataclass __eq__ and __hash__ compare.
_FIELDS = attrgetter(*(f.name for f in dataclasses.fields(Evidence) if f.compare))
assert Evidence.__dataclass_params__.eq and all(f.compare for f in dataclasses.fields(Evidence))


def unique(rows: list[Evidence] | tuple[Evidence, ...]) -> tuple[Evidence, ...]:
    """`tuple(dict.fromkeys(rows))` for Evidence rows: one of each set of equal rows, in first-seen order.

    Keyed on the field tuple, which C hashes and compares, instead of the rows themselves, whose
    dataclass `__hash__` is a Python call per row (and rows are de-duplicated a dozen times per patient).
    Equal rows are indistinguishable (every field is equal), so that the last of them is kept, where
    dict.fromkeys keeps the first, does not matter."""
    if type(rows) is not tuple and type(rows) is not list:
        rows = list(rows)  # zip below reads the rows twice
    return tuple(dict(zip(map(_FIELDS, rows), rows)).values())


def unit_text(unit: str | None) -> str:
    return DISPLAY_UNITS.get(unit or "", unit or "")


def day(when: datetime | date | None) -> date | None:
    if when is None:
        return None
    return when.date() if isinstance(when, datetime) else when


def value_text(m: Measurement, *, decimals: int | None = None) -> str:
    v = round(m.value, decimals) if decimals is not None else m.value
    return f"{m.comparator or ''}{fmt_num(v)} {unit_text(m.unit)}".strip()


def measurement(label: str, m: Measurement, *, decimals: int | None = None, note: str = "") -> Evidence:
    # value_text, unit_text and day written out: the profile builds several of these per patient
    comparator = m.comparator or ""
    unit, value, original_value = m.unit, m.value, m.original_value
    original = None
    # the number as shown: formatted once, and reused for the original when the lab sent the same number in
    # another spelling of the unit ("250 IU/mL" for 250 [IU]/mL; equal numbers format alike). A whole float
    # is its own rounding (round(75.0, 1) == 75.0), so round() runs only for the others
    v = value if decimals is None or (type(value) is float and value.is_integer()) else round(value, decimals)
    num = fmt_num(v)
    if original_value is not None and (m.original_unit != unit or original_value != value):
        same = decimals is None and original_value == value
        original = f"{comparator}{num if same else fmt_num(original_value)} {m.original_unit or ''}".strip()
    elif m.derived_from:
        original = "computed from " + ", ".join([r.reference for r in m.derived_from])
    text = f"{comparator}{num} {DISPLAY_UNITS.get(unit or '', unit or '')}".strip()
    if note:
        text = f"{text} ({note})"
    when = m.when
    if when is not None and isinstance(when, datetime):
        when = when.date()
    return new_evidence(label, text, when, m.source.reference, original)


def blood_pressure(label: str, bp: BloodPressure) -> Evidence:
    s = fmt_num(bp.systolic.value) if bp.systolic else "?"
    d = fmt_num(bp.diastolic.value) if bp.diastolic else "?"
    return new_evidence(label, f"{s}/{d} mmHg", day(bp.when), bp.source.reference)


def condition(c: ConditionFact) -> Evidence:
    return new_evidence("Condition", c.display or c.concept, c.onset or c.recorded, c.source.reference)


def medication(m: MedicationFact) -> Evidence:
    state = "active" if m.is_active else (m.status or "inactive")
    text = m.text or m.agent
    return new_evidence("Medication", f"{text} ({state})", m.start, m.source.reference)


def allergy(a: AllergyFact) -> Evidence:
    extra = []
    if a.respiratory_reaction:
        extra.append("respiratory reaction")
    if a.ige_mediated:
        extra.append("IgE-mediated")
    suffix = f" ({', '.join(extra)})" if extra else ""
    return new_evidence(f"Allergy ({a.category})", f"{a.substance}{suffix}", a.recorded, a.source.reference)


def specific_ige(s: SpecificIge) -> Evidence:
    return measurement(f"Specific IgE, {s.allergen}", s.measurement)


def age(years: int, patient_id: str) -> Evidence:
    return new_evidence("Age", f"{years} years", None, f"Patient/{patient_id}")
