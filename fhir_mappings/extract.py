"""extract_facts: the hook's FHIR data -> PatientFacts (typed, canonical units, provenance).

Resources are classified by resourceType and code, never by the prefetch key they came under (an
EHR may send a whole-patient Bundle under one key). Cheap filtering by code comes first; only the
resources a decision can use are validated (the elements read, see used_elements.py). Anything that
cannot be read becomes a DataIssue and the rest of the answer goes on: this function never raises on data.
"""
from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
import logging
from collections.abc import Callable, Iterable, Mapping
from functools import cache, lru_cache
from operator import attrgetter
from datetime import date, datetime, timedelta
from typing import Any

from clinical_core.facts import (
    AllergyFact,
    BloodPressure,
    ConditionFact,
    DataIssue,
    IgeBaseline,
    Measurement,
    MedicationFact,
    PatientFacts,
    SourceRef,
    SpecificIge,
    maker,
)
from clinical_core.phenotypes import months_before

from . import codesets as cs
from . import units
from .fhirutil import (
    all_text,
    as_dict,
    as_list,
    as_str,
    bundle_entries,
    coded,
    concept_text,
    parse_date,
    parse_datetime,
    ref_type_id,
    reference_of,
    status_code,
    subject_id,
    where_failed,
)
from .medications import MedicationIndex, medication_facts
from .used_elements import observation_read_valid, resource_valid, used_element_problem
from .observations import (
    COMPARATORS,
    IGNORED_STATUSES,
    PRELIMINARY_OK_KINDS,
    USED_STATUSES,
    RawObservation,
    effective_time,
    match_loinc,
    read_quantity,
)

log = logging.getLogger(__name__)

READ_TYPES = frozenset({"Patient", "Observation", "Condition", "MedicationRequest", "MedicationStatement",
                        "AllergyIntolerance"})
ONE_YEAR = timedelta(days=365)
# sort keys in C (a lambda is one Python call per item): the same keys, so the same order
_WHEN = attrgetter("when")
_VALUE_WHEN = attrgetter("value", "when")
# the facts built per resource, without the generic class call (the same objects: see _fast_init.maker)
_Measurement, _SourceRef, _BloodPressure = maker(Measurement), maker(SourceRef), maker(BloodPressure)
_ConditionFact, _AllergyFact, _SpecificIge = maker(ConditionFact), maker(AllergyFact), maker(SpecificIge)
_IgeBaseline = maker(IgeBaseline)


class _Ctx:
    """One extract_facts call's patient, day and issue list (a plain slotted class: built per request)."""

    __slots__ = ("patient_id", "evaluation_date", "issues", "own_reference")

    def __init__(self, patient_id: str, evaluation_date: date, issues: list[DataIssue]) -> None:
        self.patient_id = patient_id
        self.evaluation_date = evaluation_date
        self.issues = issues
        # 'Patient/<id>' is read back by ref_type_id as exactly this patient when the id is non-empty
        # and has no '/': then an equal subject reference needs no parsing (see _about_patient)
        self.own_reference = f"Patient/{patient_id}" if patient_id and "/" not in patient_id else None

    def issue(self, ref: str, problem: str, kind: str | None = None) -> None:
        self.issues.append(DataIssue(ref, problem, kind))


def extract_facts(data: Mapping[str, Any], *, patient_id: str, evaluation_date: date,
                  unavailable: Iterable[str] = (),
                  resolve_reference: Callable[[str], dict | None] | None = None) -> PatientFacts:
    issues: list[DataIssue] = []
    ctx = _Ctx(str(patient_id), evaluation_date, issues)
    try:
        unavailable_keys = [str(k) for k in (unavailable or ()) if k is not None]
    except TypeError:
        unavailable_keys = []
    try:
        return _extract(data, ctx, unavailable_keys, resolve_reference)
    except Exception as exc:  # last line of defence: a bug here must degrade the answer, not crash it
        log.error("extract_facts failed for patient %s: %s", ctx.patient_id, where_failed(exc))
        issues.append(DataIssue("extract_facts", "internal error while reading the patient's data; "
                                "facts may be incomplete"))
        return PatientFacts(patient_id=ctx.patient_id, evaluation_date=evaluation_date,
                            issues=tuple(issues), unavailable=tuple(unavailable_keys))


def _extract(data: Any, ctx: _Ctx, unavailable_keys: list[str], resolver) -> PatientFacts:
    by_type, med_index = _collect(data, ctx, unavailable_keys)

    birth_date, age = _patient(by_type.get("Patient", []), ctx)
    obs = _observations(by_type.get("Observation", []), by_type.get("DiagnosticReport", []), ctx)
    conditions = _conditions(by_type.get("Condition", []), ctx)
    medications = medication_facts(by_type.get("MedicationRequest", []) + by_type.get("MedicationStatement", []),
                                   med_index, resolver, ctx.evaluation_date, ctx.issue, ctx.patient_id)
    allergies = _allergies(by_type.get("AllergyIntolerance", []), ctx)

    measurements = obs["measurements"]
    ok = obs["ok"]
    ige = _ige_baseline(measurements.get("total-ige", []), medications, ctx, ok)
    weight = _newest(measurements.get("weight", []), ok)
    weight_at_start = _weight_at_omalizumab_start(measurements.get("weight", []), medications, ok)
    eos_all = measurements.get("eosinophils", []) + _derived_eosinophils(
        measurements.get("eosinophils-percent", []), measurements.get("wbc", []),
        measurements.get("eosinophils", []), obs["draw_keys"], obs["res_of"], ctx)
    eos_latest = _newest(eos_all, ok)
    since = _year_before(ctx.evaluation_date)
    eos_12m = [m for m in eos_all if m.when is not None and m.when.date() >= since]
    eos_max = next((m for m in sorted(eos_12m, key=_VALUE_WHEN, reverse=True) if ok(m)), None)
    bps = _blood_pressures(obs["bp_panels"], measurements.get("systolic", []), measurements.get("diastolic", []),
                           obs["res_of"])
    bps = list(itertools.islice((b for b in bps if ok(b)), 3))  # validate only the readings used
    specific = tuple(s for s in obs["specific_ige"] if ok(s.measurement))

    seen: set[str] = set()
    unavailable_out = tuple(k for k in unavailable_keys if not (k in seen or seen.add(k))) if unavailable_keys else ()
    return PatientFacts(
        patient_id=ctx.patient_id,
        evaluation_date=ctx.evaluation_date,
        birth_date=birth_date,
        age_years=age,
        total_ige=ige,
        weight=weight,
        weight_at_omalizumab_start=weight_at_start,
        eosinophils_latest=eos_latest,
        eosinophils_max_12m=eos_max,
        lte4=_newest(measurements.get("lte4", []), ok),
        egfr=_newest(measurements.get("egfr", []), ok),
        bp_latest=bps[0] if bps else None,
        bp_recent=tuple(bps[:3]),
        conditions=tuple(conditions),
        medications=tuple(medications),
        allergies=tuple(allergies),
        specific_ige=specific,
        issues=tuple(_dedupe_issues(ctx.issues)) if ctx.issues else (),
        unavailable=unavailable_out,
    )


# ------------------------------------------------------------------------------- collection
def _collect(data: Any, ctx: _Ctx, unavailable_keys: list[str]):
    """Group every resource by type (deduplicated by type/id), and index Medications for references."""
    by_type: dict[str, list[dict]] = {}
    med_index = MedicationIndex()
    seen: set[tuple[str, str]] = set()
    if not isinstance(data, Mapping):
        if data is not None:
            ctx.issue("prefetch", f"prefetch data is a {type(data).__name__}, not an object; ignored")
        return by_type, med_index
    for key, value in data.items():
        if value is None:
            continue
        if not isinstance(value, dict):
            ctx.issue(str(key), f"prefetch value is a {type(value).__name__}, not a FHIR resource; ignored")
            continue
        rtype = value.get("resourceType")
        if rtype == "OperationOutcome":
            ctx.issue(str(key), "the EHR reported that this data could not be retrieved (OperationOutcome)")
            unavailable_keys.append(str(key))
            continue
        if rtype is None and "entry" not in value:
            ctx.issue(str(key), "prefetch value has no resourceType; ignored")
            continue
        skey = str(key)
        for full_url, res in bundle_entries(value):
            if res.get("resourceType") == "Bundle":
                for fu2, r2 in bundle_entries(res):
                    _add(r2, fu2, by_type, med_index, seen, ctx, skey)
                continue
            _add(res, full_url, by_type, med_index, seen, ctx, skey)
    return by_type, med_index


# the types _add files under by_type with no other step (not Medication, Bundle or OperationOutcome)
_PLAIN_TYPES = READ_TYPES | {"DiagnosticReport"}


def _add(res: dict, full_url: str | None, by_type, med_index: MedicationIndex, seen, ctx: _Ctx, key: str) -> None:
    rtype = res.get("resourceType")
    if not isinstance(rtype, str):
        ctx.issue(key, "an entry without a resourceType was skipped")
        return
    if rtype == "OperationOutcome":
        severities = {as_dict(i).get("severity") for i in as_list(res.get("issue"))}
        if severities & {"error", "fatal"}:  # informational search outcomes are not data problems
            ctx.issue(key, "the EHR included an error OperationOutcome: part of this data may be missing")
        return
    rid = res.get("id")
    if isinstance(rid, str) and rid:
        k = (rtype, rid)
        if k in seen:
            return
        seen.add(k)
    if rtype in _PLAIN_TYPES:
        group = by_type.get(rtype)
        if group is None:
            by_type[rtype] = [res]
        else:
            group.append(res)
    elif rtype == "Medication":  # MedicationIndex.add keeps Medications only
        med_index.add(res, full_url)


def _about_patient(res: dict, ctx: _Ctx) -> bool:
    """False (with an issue) when the resource is explicitly about another patient."""
    subject = res.get("subject")
    if ctx.own_reference is not None:
        if isinstance(subject, dict) and subject.get("reference") == ctx.own_reference:
            return True  # the common case: subject_id would parse it back to this patient
        if subject is None:  # subject_id reads 'patient' next (AllergyIntolerance)
            patient = res.get("patient")
            if isinstance(patient, dict) and patient.get("reference") == ctx.own_reference:
                return True
    rtype, rid = subject_id(res)
    if rtype == "Patient" and rid and rid != ctx.patient_id:
        ctx.issue(reference_of(res), f"belongs to Patient/{rid}, not Patient/{ctx.patient_id}; ignored")
        return False
    return True


def _valid(res: dict, ctx: _Ctx, kind: str | None = None) -> bool:
    problem = used_element_problem(res)  # = validation_problem(res), one call less
    if problem:
        ctx.issue(reference_of(res), f"not valid FHIR R4 {res.get('resourceType')}: {problem}; skipped", kind)
        return False
    return True


# ---------------------------------------------------------------------------------- patient
def _patient(patients: list[dict], ctx: _Ctx) -> tuple[date | None, int | None]:
    chosen = None
    for p in patients:
        pid = as_str(p.get("id"))
        if pid and pid != ctx.patient_id:
            ctx.issue(reference_of(p), f"Patient/{pid} is not the hook's patient ({ctx.patient_id}); ignored")
            continue
        chosen = p
        break
    if chosen is None or not (resource_valid("Patient")(chosen) or _valid(chosen, ctx)):
        return None, None
    raw = chosen.get("birthDate")
    if raw is None:
        ctx.issue(reference_of(chosen), "no birthDate: age unknown")
        return None, None
    dt, precision = parse_datetime(raw)
    if dt is None:
        ctx.issue(reference_of(chosen), f"birthDate {raw!r} not understood: age unknown")
        return None, None
    ev = ctx.evaluation_date
    if precision == "day":
        bd = dt.date()
        if bd > ev:
            ctx.issue(reference_of(chosen), "birthDate is after the evaluation date: age unknown")
            return None, None
        return bd, ev.year - bd.year - ((ev.month, ev.day) < (bd.month, bd.day))
    # partial date: the age is known only if every possible birthday gives the same age
    first = dt.date()
    if precision == "year":
        last = date(first.year, 12, 31)
    else:
        nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        last = nxt - timedelta(days=1)
    ages = {ev.year - d.year - ((ev.month, ev.day) < (d.month, d.day)) for d in (first, last)}
    if len(ages) == 1 and first <= ev:
        return None, ages.pop()
    ctx.issue(reference_of(chosen), f"birthDate {raw!r} is not a full date: age cannot be told exactly")
    return None, None


# ----------------------------------------------------------------------------- observations
def _observations(observations: list[dict], reports: list[dict], ctx: _Ctx) -> dict:
    report_of: dict[str, list[str]] = {}
    for rep in reports:
        rref = reference_of(rep)
        for r in as_list(rep.get("result")):
            t, i = ref_type_id(as_dict(r).get("reference"))
            if t == "Observation" and i:
                report_of.setdefault(i, []).append(rref)

    measurements: dict[str, list[Measurement]] = {}
    draw_keys: dict[int, set[str]] = {}  # id(Measurement) -> specimen / report keys of its draw
    res_of: dict[int, tuple[dict, ...]] = {}  # id(Measurement | BloodPressure) -> resources it was read from
    verdicts: dict[int, bool] = {}

    observation_valid = resource_valid("Observation")  # every resource in res_of is an Observation
    read_valid = observation_read_valid()  # the same test without what the usual reading checked
    read_usual: set[int] = set()  # id(resource) of the results read by the usual path

    def ok(fact) -> bool:
        """Validate (once) the resources a fact was read from; only facts a decision uses get here.
        The compiled predicate first (what _valid's used_element_problem runs first); _valid only
        when it says invalid, for the issue text."""
        for r in res_of.get(id(fact), ()):
            k = id(r)
            verdict = verdicts.get(k)
            if verdict is None:
                verdict = verdicts[k] = (read_valid(r) if k in read_usual else observation_valid(r)) \
                    or _valid(r, ctx, _label_of(r))
            if not verdict:
                return False
        return True

    bp_panels: list[BloodPressure] = []
    specific: list[SpecificIge] = []
    latest = ctx.evaluation_date + timedelta(days=1)
    loinc_codes = cs.loinc_index()
    own_reference = ctx.own_reference
    for res in observations:
        get = res.get
        # match_loinc's first answer inline: one coding, a usable code, the exact LOINC system (the call
        # for anything else: tests/mappings/test_fast_paths.py compares the loop's reading with the calls)
        concept = get("code")
        loinc = None
        usual = True  # every test below passed by its inline form (see used_elements.OBSERVATION_READ)
        codings = concept.get("coding") if type(concept) is dict else None
        if type(codings) is list and len(codings) == 1:
            coding = codings[0]
            if type(coding) is dict:
                code = coding.get("code")
                if type(code) is str and code in loinc_codes and coding.get("system") == cs.LOINC:
                    loinc = loinc_codes[code]
        if loinc is None:
            usual = False
            loinc, coding, problem = match_loinc(concept)
            if problem:
                ctx.issue(reference_of(res), f"{problem}; not used")
                continue
            if loinc is None:
                continue  # not a test this service reads
        kind = loinc.kind
        status = get("status")
        if not (type(status) is str and status in USED_STATUSES):  # (the usual 'final': already as_str, lower)
            usual = False
            status = status.lower() if isinstance(status, str) and status.strip() else ""  # as_str, lower-cased
            if status in IGNORED_STATUSES:
                continue
            if not (status in USED_STATUSES or (status == "preliminary" and kind in PRELIMINARY_OK_KINDS)):
                ctx.issue(reference_of(res), f"{loinc.display}: status '{status or 'missing'}' is not a usable "
                          "result; not used", _kind_label(kind))
                continue
        subject = get("subject")  # _about_patient's first test inline: subject == Patient/<id>
        if not (own_reference is not None and type(subject) is dict and subject.get("reference") == own_reference):
            usual = False
            if not _about_patient(res, ctx):
                continue
        # effective_time's first candidate inline; the rest only when it is missing or unreadable
        when, precision = parse_datetime(get("effectiveDateTime"))
        if when is None:
            when, precision = effective_time(res)
        # times are compared in UTC: a same-day evening result west of Greenwich is 'tomorrow' in UTC
        if when is not None and when.date() > latest:
            ctx.issue(reference_of(res), f"{loinc.display}: dated after the evaluation date; not used",
                      _kind_label(kind))
            continue
        if kind == "total-ige" and precision in ("year", "month"):
            # a month- or year-only date cannot be placed before or after an omalizumab start
            ctx.issue(reference_of(res), f"{loinc.display}: dated only to the {precision}; cannot tell "
                      "whether it predates omalizumab; not used", "total-ige")
            continue
        rid = get("id")
        if not (isinstance(rid, str) and rid.strip()):
            rid = None
        specimen = get("specimen")
        if specimen is not None:
            specimen = specimen.get("reference") if type(specimen) is dict else None
            if not (isinstance(specimen, str) and specimen.strip()):
                specimen = None
        reports = tuple(report_of.get(rid, ())) if rid and report_of else ()
        if kind == "bp":
            bp = _bp_panel(res, loinc, coding or {}, rid, when, status, specimen, reports, ctx)
            if bp is not None:
                bp_panels.append(bp)
                res_of[id(bp)] = (res,)
            continue
        m = _quantity_fast(res, kind, loinc, coding, rid, when, status)
        if m is None:  # anything unusual: the general reader (and its issue texts)
            raw = RawObservation(res, loinc, coding or {}, when, status, specimen, reports)
            m = read_quantity(res, kind, raw, ctx.issues)
            if m is None:
                continue
        elif usual:  # its status, code, subject and value were checked on the way: ok() tests the rest
            read_usual.add(id(res))
        res_of[id(m)] = (res,)
        if kind == "specific-ige":
            specific.append(_SpecificIge(loinc.allergen or loinc.display,
                                        loinc.allergen_group or "other", m))  # type: ignore[arg-type]
            continue
        group = measurements.get(kind)
        if group is None:  # (setdefault would build a list per result)
            measurements[kind] = [m]
        else:
            group.append(m)
        if specimen or reports:  # readers take a missing entry as no keys
            keys = {"specimen:" + specimen} if specimen else set()
            for r in reports:
                keys.add("report:" + r)
            draw_keys[id(m)] = keys
    return {"measurements": measurements, "draw_keys": draw_keys, "bp_panels": bp_panels, "specific_ige": specific,
            "res_of": res_of, "ok": ok}


def _quantity_fast(res: dict, kind: str, loinc, coding: dict | None, rid: str | None, when: datetime | None,
                   status: str) -> Measurement | None:
    """read_quantity(res, kind, RawObservation(...), issues) for the common, valid Observation, or
    None whenever that call could do anything else (add an issue, raise): the caller then runs it.

    A plain int/float value, no or a known comparator, and a unit spelling `units.convert` accepts
    (looked up once per spelling: units.quantity_spelling) with a plausible converted value: then the
    Measurement equals read_quantity's, built without the RawObservation and without the helper calls.
    tests/mappings/test_quantity_fast_path.py compares the two on varied and malformed input.
    """
    q = res.get("valueQuantity")
    if type(q) is not dict:
        return None
    value = q.get("value")
    tv = type(value)
    if tv is not float and tv is not int:
        return None
    comparator = q.get("comparator")
    if comparator is not None and comparator not in COMPARATORS:
        return None
    try:
        code, system, unit = q.get("code"), q.get("system"), q.get("unit")
        spelling = units.known_spelling((kind, code, system, unit))  # a spelling seen before: no call
        if spelling is None:
            spelling = units.quantity_spelling(kind, code, system, unit)
        if not spelling:  # (None or False: refused)
            return None
        v = float(value)
    except (TypeError, OverflowError):  # an unhashable unit, an integer beyond the float range
        return None
    factor, canonical, lo, hi, original_unit = spelling
    x = v * factor
    # = units.ten_significant_digits(x); NaN and infinities fail the bounds, as convert refuses them
    converted = x if x.is_integer() and -1e10 < x < 1e10 else float(f"{x:.10g}")
    if not lo <= converted <= hi:
        return None
    display = coding.get("display") if coding else None
    if not (isinstance(display, str) and display.strip()):
        display = loinc.display
    return _Measurement(kind, converted, canonical, when,
                        _SourceRef("Observation", rid, _loinc_ref(loinc.code), display),
                        comparator, v, original_unit, status)


@cache
def _loinc_ref(code: str) -> str:
    """'http://loinc.org|<code>' (one string per usable code, not one f-string per result)."""
    return f"{cs.LOINC}|{code}"


_KIND_LABELS = {"bp": "blood-pressure", "eosinophils-percent": "eosinophils"}


def _label_of(res: dict) -> str:
    """The issue kind label of an Observation a fact was read from, for the rare invalid one: its code
    matched again (the same answer as when it was read; no label kept per resource read)."""
    return _kind_label(match_loinc(res.get("code"))[0].kind)


def _kind_label(kind: str) -> str:
    return _KIND_LABELS.get(kind, kind)


def _bp_panel(res: dict, loinc: cs.LoincCode, coding: dict, rid: str | None, when: datetime | None, status: str,
              specimen: str | None, reports: tuple[str, ...], ctx: _Ctx) -> BloodPressure | None:
    """A panel's systolic and diastolic components.  The RawObservation the general component reader takes
    is built only when a component needs that reader; the panel's source is RawObservation.source()'s
    (rid is as_str of the id; tests/mappings/test_clinical_fast_paths.py compares the two)."""
    systolic = diastolic = None
    raw = None
    for comp in as_list(res.get("component")):
        comp = as_dict(comp)
        comp_loinc, _, problem = match_loinc(comp.get("code"))
        if comp_loinc is None or problem:
            continue
        kind = comp_loinc.kind
        if (kind == "systolic" and systolic is None) or (kind == "diastolic" and diastolic is None):
            # = read_quantity(comp, kind, raw, ctx.issues, loinc=loinc) (its source names the panel's coding)
            m = _quantity_fast(comp, kind, comp_loinc, coding, rid, when, status)
            if m is None:
                if raw is None:
                    raw = RawObservation(res, loinc, coding, when, status, specimen, reports)
                m = read_quantity(comp, kind, raw, ctx.issues, loinc=comp_loinc)
            if kind == "systolic":
                systolic = m
            else:
                diastolic = m
    if systolic is None and diastolic is None:
        if not as_list(res.get("component")):
            ctx.issue(reference_of(res), "blood pressure panel without systolic/diastolic components",
                      "blood-pressure")
        return None
    display = coding.get("display")  # = RawObservation.source(): as_str(display) or the code's display
    if not (isinstance(display, str) and display.strip()):
        display = loinc.display
    return _BloodPressure(systolic, diastolic, when, _SourceRef("Observation", rid, _loinc_ref(loinc.code), display))


@cache
def _eos_pairing_window() -> timedelta:
    """The eosinophil % / WBC pairing window of units.json (a data file read once), as a timedelta."""
    return timedelta(minutes=units.pairing_window_minutes())


@cache
def _bp_pairing_window() -> timedelta:
    """The systolic / diastolic pairing window of units.json, as a timedelta."""
    return timedelta(minutes=units.bp_pairing_window_minutes())


def _blood_pressures(panels: list[BloodPressure], systolics: list[Measurement],
                     diastolics: list[Measurement], res_of: dict[int, tuple[dict, ...]]) -> list[BloodPressure]:
    """Panels plus lone systolic/diastolic Observations paired by time; newest first."""
    out = list(panels)
    unpaired_d = list(diastolics)
    window = _bp_pairing_window()
    for s in systolics:
        match = None
        if s.when is not None:
            cands = [d for d in unpaired_d if d.when is not None and abs(d.when - s.when) <= window]
            if cands:
                match = min(cands, key=lambda d: abs(d.when - s.when))
        if match is not None:
            unpaired_d.remove(match)
        bp = _BloodPressure(s, match, s.when, s.source)
        res_of[id(bp)] = res_of.get(id(s), ()) + (res_of.get(id(match), ()) if match is not None else ())
        out.append(bp)
    for d in unpaired_d:
        bp = _BloodPressure(None, d, d.when, d.source)
        res_of[id(bp)] = res_of.get(id(d), ())
        out.append(bp)
    out.sort(key=lambda b: b.when or datetime.min, reverse=True)
    return out


# up to this many items, _same_draw_index compares p with each item instead of building its index
_SCAN_ITEMS = 8


def _same_draw_index(items: list[Measurement], draw_keys: dict[int, set[str]], window: timedelta
                     ) -> Callable[[Measurement], list[Measurement]]:
    """p -> the items from the same draw as p (a shared specimen/report key, or both dated within
    `window`), in their original order.  Few items (a patient's usual WBCs or counts): each compared
    with p (`_same_draw_scan`); more: an index by key and a sorted time list (comparing every pair was
    quadratic for a prefetch with 1,000 Observations; tests/mappings/test_same_draw.py compares the two)."""
    if len(items) <= _SCAN_ITEMS:
        return lambda p: _same_draw_scan(p, items, draw_keys, window)
    return _same_draw_indexed(items, draw_keys, window)


def _same_draw_scan(p: Measurement, items: list[Measurement], draw_keys: dict[int, set[str]],
                    window: timedelta) -> list[Measurement]:
    """The items sharing a draw key with p or dated within `window` of it, in their order, by one pass
    (a datetime difference never overflows: it is the indexed form's clamped window)."""
    keys = draw_keys.get(id(p)) if draw_keys else None
    when = p.when
    out = []
    for m in items:
        if when is not None and m.when is not None and abs(m.when - when) <= window:
            out.append(m)
        elif keys:
            mk = draw_keys.get(id(m))
            if mk and not keys.isdisjoint(mk):
                out.append(m)
    return out


def _same_draw_indexed(items: list[Measurement], draw_keys: dict[int, set[str]], window: timedelta
                       ) -> Callable[[Measurement], list[Measurement]]:
    """_same_draw_index for many items: an index by key and a sorted time list."""
    by_key: dict[str, list[int]] = {}
    if draw_keys:  # (none when no result names a specimen or a report)
        for i, m in enumerate(items):
            for k in draw_keys.get(id(m), ()):
                by_key.setdefault(k, []).append(i)
    dated = sorted([(m.when, i) for i, m in enumerate(items) if m.when is not None])
    times = [t for t, _ in dated]
    order = [i for _, i in dated]  # the indexes in time order: a slice of it is a window's items

    def same_draw(p: Measurement) -> list[Measurement]:
        found: set[int] = set()
        for k in draw_keys.get(id(p), ()):
            found.update(by_key.get(k, ()))
        if p.when is not None:
            lo = p.when - window if p.when - datetime.min > window else datetime.min
            hi = p.when + window if datetime.max - p.when > window else datetime.max
            found.update(order[bisect_left(times, lo):bisect_right(times, hi)])
        return [items[i] for i in sorted(found)]
    return same_draw


def _derived_eosinophils(percents: list[Measurement], wbcs: list[Measurement], absolutes: list[Measurement],
                         draw_keys: dict[int, set[str]], res_of: dict[int, tuple[dict, ...]],
                         ctx: _Ctx) -> list[Measurement]:
    """Eosinophil % x WBC from the same draw -> absolute count (/uL), unless the draw has a count."""
    out: list[Measurement] = []
    if not percents:
        return out
    window = _eos_pairing_window()
    absolutes_of = _same_draw_index(absolutes, draw_keys, window)
    wbcs_of = None  # indexed on first need: usually the draw has its count and no % is derived
    for p in percents:
        if absolutes_of(p):
            continue  # the lab reported the count itself: use that, not a derived one
        if wbcs_of is None:
            wbcs_of = _same_draw_index(wbcs, draw_keys, window)
        cands = wbcs_of(p)
        if not cands:
            ctx.issue(p.source.reference, "eosinophil % without a WBC from the same draw: no count derived",
                      "eosinophils")
            continue
        w = cands[0] if len(cands) == 1 else min(  # (min of one: the same, without a key call)
            cands, key=lambda w: (0 if draw_keys.get(id(w), set()) & draw_keys.get(id(p), set()) else 1,
                                  abs((w.when or datetime.min) - (p.when or datetime.min))))
        comparator = p.comparator or w.comparator
        if p.comparator and w.comparator and p.comparator[0] != w.comparator[0]:
            ctx.issue(p.source.reference, "eosinophil % and WBC carry opposite comparators: no count derived",
                      "eosinophils")
            continue
        value = units.ten_significant_digits(w.value * 1000.0 * p.value / 100.0)  # = float(f"{...:.10g}")
        m = _Measurement(
            kind="eosinophils", value=value, unit="/uL", when=p.when, source=p.source, comparator=comparator,
            original_value=p.original_value, original_unit=p.original_unit or "%", status=p.status,
            derived_from=(p.source, w.source),
        )
        res_of[id(m)] = res_of.get(id(p), ()) + res_of.get(id(w), ())
        out.append(m)
    return out


@lru_cache(maxsize=64)
def _year_before(evaluation_date: date) -> date:
    """months_before(evaluation_date, 12), remembered per evaluation day (the service's date, not patient data)."""
    return months_before(evaluation_date, 12)


def _newest(ms: list[Measurement], ok: Callable[[Any], bool] = lambda m: True) -> Measurement | None:
    """The newest measurement whose resource validates (undated ones only when none is dated)."""
    if not ms:  # (a kind with no result: no sort, no scan)
        return None
    dated = sorted((m for m in ms if m.when is not None), key=_WHEN, reverse=True)
    for m in dated:
        if ok(m):
            return m
    return next((m for m in ms if m.when is None and ok(m)), None)


def _weight_at_omalizumab_start(weights: list[Measurement], meds: list[MedicationFact],
                                ok: Callable[[Any], bool]) -> Measurement | None:
    """The newest weight on or before the first omalizumab start: the weight the dose was chosen for.

    The label asks to adjust the dose for significant changes in body weight, so the core compares
    this weight's band with the current weight's band.
    """
    starts = [m.start for m in meds if m.agent == "omalizumab" and m.start is not None]
    if not starts:
        return None
    first_start = min(starts)
    before = [m for m in weights if m.when is not None and m.when.date() <= first_start]
    return _newest(before, ok)


# ------------------------------------------------------------------------------ IgE baseline
def _ige_baseline(results: list[Measurement], meds: list[MedicationFact], ctx: _Ctx,
                 ok: Callable[[Any], bool] = lambda m: True) -> IgeBaseline:
    """The total IgE that may dose omalizumab (label: never an on-treatment IgE).

    Omalizumab courses come from MedicationRequest/Statement start and end dates. A result drawn
    on treatment or within a year after a course ended is excluded. The newest remaining result is
    the baseline: either drawn before the first start, or a re-test drawn after an interruption of
    at least a year. If omalizumab stopped a year or more ago and only the pre-treatment result
    exists, the label asks for a re-test.
    """
    courses = [m for m in meds if m.agent == "omalizumab"]
    if courses:  # every IgE takes part in the decision (excluded ones are shown): validate all
        results = [r for r in results if ok(r)]
    # without omalizumab only the newest valid dated result decides: older ones are not validated
    # (nor reported when invalid), as for every other fact
    dated = [r for r in results if r.when is not None]
    undated = [r for r in results if r.when is None and ok(r)]
    for r in undated:
        ctx.issue(r.source.reference, "total IgE without a date: cannot tell whether it predates omalizumab",
                  "total-ige")
    if not courses:
        newest = _newest(dated, ok)
        if newest is not None:
            return _IgeBaseline("newest-no-omalizumab", newest, note="no omalizumab history: newest result")
        return _IgeBaseline("missing", None,
                            note="total IgE results have no date" if undated else "no usable total IgE result")
    if not results:
        return _IgeBaseline("missing", None, note="no usable total IgE result")
    if any(c.start is None for c in courses):
        refs = ", ".join(c.source.reference for c in courses if c.start is None)
        return _IgeBaseline("only-on-treatment", None, excluded=tuple(dated),
                            note=f"omalizumab recorded without a start date ({refs}): cannot tell which IgE "
                                 "predates treatment; confirm the baseline IgE")
    ev = ctx.evaluation_date
    windows = []
    for c in courses:
        end = c.end
        if c.is_active or end is None:
            end = ev  # still on it, or stop date unknown: treat as on treatment up to today
        windows.append((c.start, end + ONE_YEAR, c))
    first_start = min(c.start for c in courses)

    def excluded(r: Measurement) -> bool:
        d = r.when.date()
        return any(s <= d <= e for s, e, _ in windows)

    usable = [r for r in dated if not excluded(r)]
    dropped = tuple(r for r in dated if excluded(r))
    if not usable:
        return _IgeBaseline("only-on-treatment", None, excluded=dropped,
                            note="every total IgE was drawn on omalizumab or within a year of stopping")
    chosen = max(usable, key=_WHEN)
    ongoing = [c for c in courses if c.is_active or c.end is None]
    last_end = max((c.end for c in courses if c.end is not None), default=None)
    interrupted = not ongoing and last_end is not None and (ev - last_end) >= ONE_YEAR
    if interrupted and chosen.when.date() < last_end + ONE_YEAR:
        return _IgeBaseline("retest-after-interruption", chosen, excluded=dropped,
                            note=f"omalizumab stopped {last_end.isoformat()} (a year or more ago): the label asks "
                                 "for a new total IgE before dosing")
    if chosen.when.date() < first_start:
        unknown_stop = [c for c in courses if not c.is_active and c.end is None]
        extra = ("; omalizumab is recorded as " + "/".join(sorted({c.status for c in unknown_stop}))
                 + " without a stop date: if treatment was interrupted for a year or more, re-test total IgE"
                 ) if unknown_stop else ""
        return _IgeBaseline("baseline-before-omalizumab", chosen, excluded=dropped,
                            note=f"newest result before the first omalizumab start ({first_start.isoformat()}){extra}")
    return _IgeBaseline("baseline-before-omalizumab", chosen, excluded=dropped,
                        note="re-test drawn a year or more after omalizumab was stopped")


# ------------------------------------------------------------------------------- conditions
INACTIVE_CLINICAL = frozenset({"inactive", "remission", "resolved"})
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error"})


def _conditions(conds: list[dict], ctx: _Ctx) -> list[ConditionFact]:
    out: list[ConditionFact] = []
    seen: set[tuple[str, str]] = set()
    ev = ctx.evaluation_date
    condition_valid = resource_valid("Condition")  # (_valid only for an invalid one's issue text)
    for res in conds:
        matches = _condition_concepts(res.get("code"))
        if not matches:
            continue
        ver = status_code(res.get("verificationStatus"))
        clin = status_code(res.get("clinicalStatus"))
        if ver in EXCLUDED_VERIFICATION or clin in INACTIVE_CLINICAL:
            continue
        if not _about_patient(res, ctx) or not (condition_valid(res) or _valid(res, ctx)):
            continue
        onset = parse_date(res.get("onsetDateTime")) or parse_date(as_dict(res.get("onsetPeriod")).get("start"))
        abatement_dt, abatement_period = res.get("abatementDateTime"), res.get("abatementPeriod")
        abatement = None if abatement_dt is None and abatement_period is None else (  # (the usual: neither)
            parse_date(abatement_dt) or parse_date(as_dict(abatement_period).get("end"))
            or parse_date(as_dict(abatement_period).get("start")))
        if abatement is not None and abatement <= ev:
            continue
        if clin is None and (res.get("abatementBoolean") is True or res.get("abatementString")):
            continue
        if onset is not None and onset > ev:
            continue
        recorded = parse_date(res.get("recordedDate"))
        text = concept_text(res.get("code"))
        rid = as_str(res.get("id"))
        for concept, code, display in matches:
            key = (rid or str(id(res)), concept)
            if key in seen:
                continue
            seen.add(key)
            out.append(_ConditionFact(concept=concept, display=text or display,
                                      source=_SourceRef("Condition", rid, code, display),
                                      onset=onset, recorded=recorded))
    return out


def _condition_concepts(concept: Any) -> list[tuple[str, str | None, str]]:
    """(concept key, 'system|code' or None for a text match, display) for a Condition.code.
    The coded matches in one loop over `coded`'s pairs (its tests written out, the system through
    `cs.known_system`), the keys kept in a list beside them (no set built per concept), the
    'system|code' text and the display once per matching coding; tests/mappings/test_fast_paths.py
    compares it with the helper-based form."""
    found: list[tuple[str, str | None, str]] = []
    coding = concept.get("coding") if isinstance(concept, dict) else None
    if isinstance(coding, list):
        keys: list[str] = []
        for c in coding:
            if not isinstance(c, dict):
                continue
            code = c.get("code")
            if not (isinstance(code, str) and code.strip()):
                continue
            system = cs.known_system(c.get("system"))
            if system == cs.SNOMED:
                rule = cs.snomed_index().get(code.strip())
            elif system == cs.ICD10CM:
                rule = cs.icd10_lookup(code.strip())
            else:
                continue
            if rule is None:
                continue
            ref = display = None
            for k in rule.concepts:
                if k not in keys:
                    if ref is None:
                        ref = f"{system}|{code.strip()}"
                        display = as_str(c.get("display")) or rule.display
                    keys.append(k)
                    found.append((k, ref, display))
    if found:
        return found
    text = all_text(concept).lower()
    if not text:
        return []
    for pat in cs.condition_text_patterns():
        if any(w in text for w in pat["any"]) and not any(w in text for w in pat.get("none", ())):
            for key in (pat["concept"], *pat.get("also", ())):
                if key not in {f[0] for f in found}:
                    found.append((key, None, concept_text(concept)))
    return found


# -------------------------------------------------------------------------------- allergies
def _allergies(items: list[dict], ctx: _Ctx) -> list[AllergyFact]:
    out = []
    groups = cs.allergy_group_patterns()  # one whole-word alternation per group
    resp = cs.respiratory_manifestation_pattern()
    subst_idx = cs.snomed_substance_index()
    allergy_valid = resource_valid("AllergyIntolerance")  # (_valid only for an invalid one's issue text)
    for res in items:
        ver = status_code(res.get("verificationStatus"))
        clin = status_code(res.get("clinicalStatus"))
        if ver in EXCLUDED_VERIFICATION or clin in ("inactive", "resolved"):
            continue
        code = res.get("code")
        # (a text-only code, the usual substance: no coded() generator, no scans of an empty list)
        codes = list(coded(code)) if isinstance(code, dict) and isinstance(code.get("coding"), list) else []
        code_text = concept_text(code)
        texts = [all_text(code)]
        reactions = res.get("reaction")
        if isinstance(reactions, list):
            for r in reactions:  # all_text of an absent substance is '', which the join leaves out
                substance = r.get("substance") if isinstance(r, dict) else None
                if substance is not None:
                    texts.append(all_text(substance))
        text = " | ".join([t for t in texts if t]).lower()
        coded_substance = next((subst_idx[c] for system, c, _ in codes if system == cs.SNOMED and c in subst_idx),
                               None) if codes else None
        category = None
        for group in ("aspirin-nsaid", "food", "environmental"):
            if groups[group].search(text):
                category = group
                break
        if category is None and coded_substance:
            category = "food"
        if category is None:
            fhir_cat = {str(c).lower() for c in as_list(res.get("category"))}
            # 'environment' without a named aeroallergen (latex, "environmental allergy") is not evidence
            # of aeroallergen sensitisation: it stays 'other'
            category = ("food" if "food" in fhir_cat
                        else "medication" if "medication" in fhir_cat or "biologic" in fhir_cat else "other")
        if not _about_patient(res, ctx) or not (allergy_valid(res) or _valid(res, ctx)):
            continue
        manifestations = []
        if isinstance(reactions, list):
            for r in reactions:
                ms = r.get("manifestation") if isinstance(r, dict) else None
                if isinstance(ms, list):
                    for m in ms:
                        manifestations.append(all_text(m))
        manifest = " | ".join(manifestations).lower()
        typ = as_str(res.get("type"))
        ige = True if typ == "allergy" else False if typ == "intolerance" else None
        substance = code_text or coded_substance or "unspecified substance"
        code_str = next((f"{system}|{c}" for system, c, _ in codes if system), None) if codes else None
        out.append(_AllergyFact(
            category=category, substance=substance,  # type: ignore[arg-type]
            source=_SourceRef("AllergyIntolerance", as_str(res.get("id")), code_str, code_text),
            respiratory_reaction=resp.search(manifest) is not None,
            ige_mediated=ige,
            recorded=parse_date(res.get("recordedDate")) or parse_date(res.get("onsetDateTime")),
        ))
    return out


def _dedupe_issues(issues: list[DataIssue]) -> list[DataIssue]:
    seen = set()
    out = []
    for i in issues:
        k = (i.reference, i.problem)
        if k not in seen:
            seen.add(k)
            out.append(i)
    return out
