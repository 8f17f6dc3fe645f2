"""Observations -> Measurements: status rules, values with comparators, units, provenance.

Only Observations whose code is a usable LOINC code (see data/codesets/loinc.json) are read; they
are turned into canonical-unit Measurements; the caller validates the elements read (used_elements.py)
of the ones a decision uses. Status: final, amended and corrected are used; preliminary only for blood pressure
(a point-of-care reading a nurse has not yet "finalised" still says the pressure is high, and it can
only add a warning, never a dose); registered, cancelled and entered-in-error are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from clinical_core.facts import DataIssue, Measurement, SourceRef

from . import units
from .codesets import LOINC, UCUM, LoincCode, canonical_system, loinc_index
from .fhirutil import as_dict, as_list, as_str, parse_datetime, reference_of

USED_STATUSES = frozenset({"final", "amended", "corrected"})
PRELIMINARY_OK_KINDS = frozenset({"bp", "systolic", "diastolic"})
IGNORED_STATUSES = frozenset({"registered", "cancelled", "entered-in-error"})
COMPARATORS = frozenset({"<", "<=", ">=", ">"})


@dataclass(frozen=True, slots=True)
class RawObservation:
    """An Observation that matched a usable LOINC code, with what is needed to read it."""

    resource: dict
    loinc: LoincCode
    coding: dict
    when: datetime | None
    status: str
    specimen: str | None
    reports: tuple[str, ...]  # DiagnosticReport references that list it in result[]

    @property
    def reference(self) -> str:
        return reference_of(self.resource)

    def source(self, loinc: LoincCode | None = None) -> SourceRef:
        lc = loinc or self.loinc
        return SourceRef("Observation", as_str(self.resource.get("id")), f"{LOINC}|{lc.code}",
                         as_str(self.coding.get("display")) or lc.display)


def match_loinc(concept: dict) -> tuple[LoincCode | None, dict | None, str | None]:
    """The usable LOINC coding of a CodeableConcept; an error text if codings disagree on the kind.

    One loop over the codings (what `coded` yields, filtered): the system is canonicalised only for
    a code that is a usable LOINC code, and the common exact 'http://loinc.org' skips even that.
    """
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if not isinstance(codings, list):
        return None, None, None
    idx = loinc_index()
    if len(codings) == 1:  # the common single coding: no hit list (a usable code has no spaces to strip)
        c = codings[0]
        if type(c) is dict:
            code = c.get("code")
            if type(code) is str and code in idx:
                system = c.get("system")
                if system == LOINC or canonical_system(system) == LOINC:
                    return idx[code], c, None
    hits = []
    for c in codings:
        if not isinstance(c, dict):
            continue
        code = c.get("code")
        if not isinstance(code, str):
            continue
        code = code.strip()
        if code and code in idx:
            system = c.get("system")
            if system == LOINC or canonical_system(system) == LOINC:
                hits.append((idx[code], c))
    if not hits:
        return None, None, None
    if len(hits) > 1:
        kinds = {h[0].concept for h in hits}
        if len(kinds) > 1:
            return None, None, f"codings name different tests ({', '.join(sorted(kinds))})"
    return hits[0][0], hits[0][1], None


def effective_time(resource: dict) -> tuple[datetime | None, str]:
    """(time, precision): effectiveDateTime, effectivePeriod (start, else end), effectiveInstant; issued last."""
    r = resource
    dt, precision = parse_datetime(r.get("effectiveDateTime"))
    if dt is not None:  # the common case: the later candidates are not even looked up
        return dt, precision
    period = as_dict(r.get("effectivePeriod"))
    for value in (period.get("start"), period.get("end"), r.get("effectiveInstant"), r.get("issued")):
        dt, precision = parse_datetime(value)
        if dt is not None:
            return dt, precision
    return None, ""


def status_usable(status: str, kind: str) -> bool:
    if status in USED_STATUSES:
        return True
    return status == "preliminary" and kind in PRELIMINARY_OK_KINDS


def read_quantity(holder: dict, kind: str, raw: RawObservation, issues: list[DataIssue],
                  *, loinc: LoincCode | None = None, label: str | None = None) -> Measurement | None:
    """valueQuantity of an Observation (or of one component) -> Measurement in the canonical unit.

    dataAbsentReason means no value. A comparator ('>1500', '<2') is kept; the value is converted
    with it. A missing or unknown unit makes the result unusable and says so.
    """
    what = label or (loinc or raw.loinc).display
    q = holder.get("valueQuantity")
    if q is None and holder.get("dataAbsentReason") is not None:
        reason = _absent_text(holder.get("dataAbsentReason"))
        issues.append(DataIssue(raw.reference, f"{what}: no value ({reason})", kind))
        return None
    if not isinstance(q, dict):
        if any(k.startswith("value") for k in holder):
            issues.append(DataIssue(raw.reference, f"{what}: result is not a quantity with a unit; not used", kind))
        else:
            issues.append(DataIssue(raw.reference, f"{what}: no value", kind))
        return None
    value = q.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        issues.append(DataIssue(raw.reference, f"{what}: no numeric value", kind))
        return None
    comparator = q.get("comparator")
    if comparator is not None and comparator not in COMPARATORS:
        issues.append(DataIssue(raw.reference, f"{what}: comparator {comparator!r} not understood; not used", kind))
        return None
    code = as_str(q.get("code"))
    system = as_str(q.get("system"))
    unit_text = as_str(q.get("unit"))
    # a non-UCUM code system: only the human unit string can be trusted for normalisation
    ucum_code = code if (system is None or system.rstrip("/") == UCUM) else None
    try:
        number = float(value)  # OverflowError: an integer beyond the float range (valid JSON)
        converted, _ = units.convert(kind, number, ucum_code, unit_text)
    except OverflowError:
        issues.append(DataIssue(raw.reference, f"{what}: value beyond the numeric range (a data-entry or "
                                "interface error?); not used", kind))
        return None
    except units.UnitError as exc:
        issues.append(DataIssue(raw.reference, f"{what}: {exc}; not used", kind))
        return None
    src = raw.source(loinc)
    return Measurement(
        kind=kind, value=converted, unit=units.canonical_unit(kind),
        when=raw.when, source=src, comparator=comparator,
        original_value=number, original_unit=unit_text or code, status=raw.status,
    )


def _absent_text(dar) -> str:
    d = as_dict(dar)
    for c in as_list(d.get("coding")):
        c = as_dict(c)
        t = as_str(c.get("display")) or as_str(c.get("code"))
        if t:
            return t
    return as_str(d.get("text")) or "data absent"
