"""Hypothesis strategies for FHIR-like data that an EHR (or an attacker) might send.

The generated resources are *near* FHIR R4: the right resourceType and mostly the right shape, carrying
the codes the service looks for (so the interesting mapping paths run), but with wrong types, missing
fields, absurd / negative / zero quantities, huge strings, deep nesting, odd unicode and future or
invalid dates mixed in. A mapping layer that only survives well-formed data fails here.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]

# Codes the mapping layer looks for (clinical-reference.md section 5); topped up from the code-set files.
_LOINC = ["19113-0", "76488-6", "2462-0", "26449-9", "711-2", "712-0", "713-8", "26450-7", "714-6",
          "6690-2", "26464-8", "29463-7", "3141-9", "8335-2", "33914-3", "48642-3", "62238-1", "98979-8",
          "85354-9", "8480-6", "8462-4", "33343-5", "6096-2", "6206-7", "6106-9", "2160-0"]
_SNOMED = ["195967001", "389145006", "367542003", "426656000", "402408009", "63088003", "77386006",
           "709044004", "38341003", "91935009", "232347008", "414285001", "86142006"]
_ICD10 = ["J45.50", "J45.909", "J82.83", "L50.1", "J33.9", "J45.51", "L12.0", "N18.3", "I10", "Z91.010",
          "J45.20", "D72.1"]
_RXNORM = ["302379", "1720597", "3008", "88249", "40575", "114970", "1876376", "20610", "1347",
           "1659164", "2107301"]
_MED_NAMES = ["omalizumab", "Xolair 150 MG injection", "Omlyclo", "cyclosporine", "Neoral 100 mg",
              "Sandimmune", "mepolizumab", "Nucala", "benralizumab", "Fasenra", "reslizumab", "Cinqair",
              "dupilumab", "montelukast 10 mg", "Singulair", "zileuton", "cetirizine", "fexofenadine",
              "aspirin", "ibuprofen", "OMALIZUMAB", "omalizumab\u200b", "ｏｍａｌｉｚｕｍａｂ"]
_UNITS = ["[IU]/mL", "IU/mL", "k[IU]/L", "kU/L", "ng/mL", "ug/L", "mg/dL", "/uL", "10*3/uL", "10*9/L",
          "cells/uL", "%", "kg", "g", "[lb_av]", "lb", "mL/min/{1.73_m2}", "mL/min/1.73m2", "mm[Hg]",
          "mmHg", "pg/mg{creat}", "pg/mg", "", "furlong", "[IU]/mL/[IU]/mL", "1/0", "10*999/L", "kg/kg",
          "\u00b5L", "mg", "mg/kg"]


def _codes_from_files() -> None:
    """Add every code from fhir_mappings/data/codesets/* so the fuzzer follows the real code lists."""
    base = ROOT / "fhir_mappings" / "data" / "codesets"
    if not base.is_dir():
        return
    for f in sorted(base.rglob("*")):
        try:
            text = f.read_text(errors="replace")
        except OSError:
            continue
        if f.suffix == ".json":
            try:
                _walk_codes(json.loads(text))
            except ValueError:
                pass
        elif f.suffix == ".csv":
            import csv
            import io
            for row in csv.DictReader(io.StringIO(text)):
                _add_code(row.get("system") or "", row.get("code") or "")


def _walk_codes(obj: Any) -> None:
    if isinstance(obj, dict):
        if isinstance(obj.get("code"), str):
            _add_code(str(obj.get("system", "")), obj["code"])
        for v in obj.values():
            _walk_codes(v)
    elif isinstance(obj, list):
        for v in obj:
            _walk_codes(v)


def _add_code(system: str, code: str) -> None:
    s = system.lower()
    target = (_LOINC if "loinc" in s else _SNOMED if "snomed" in s else _ICD10 if "icd" in s
              else _RXNORM if "rxnorm" in s else None)
    if target is not None and code and code not in target and len(target) < 400:
        target.append(code)


_codes_from_files()

SYSTEMS = {"loinc": "http://loinc.org", "snomed": "http://snomed.info/sct",
           "icd10": "http://hl7.org/fhir/sid/icd-10-cm", "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
           "ucum": "http://unitsofmeasure.org"}

def weighted(*pairs: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """one_of with weights (st.one_of treats repeated branches as one); shrinks towards the first."""
    index = [i for i, (w, _) in enumerate(pairs) for _ in range(w)]
    return st.sampled_from(index).flatmap(lambda i: pairs[i][1])


# -- primitives -----------------------------------------------------------------------------------------
HUGE = 200_000
weird_text = weighted(
    (6, st.text(max_size=40)),
    (2, st.text(alphabet=st.characters(codec="utf-8"), max_size=40)),
    (1, st.sampled_from(["", " ", "\x00", "\u202e\u202d", "𝔬𝔪𝔞𝔩𝔦𝔷𝔲𝔪𝔞𝔟", "Ω" * 300, "<script>alert(1)</script>",
                     "{{context.patientId}}", "'; DROP TABLE feedback; --", "../../etc/passwd",
                     "%00", "\ud7ff", "null", "NaN", "1e309"])),
)

numbers = st.one_of(
    st.integers(min_value=-10, max_value=2000),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from([0, -0.0, -1, -250, 1e-300, 1e300, 1.7976931348623157e308, 10**30, -(10**30),
                     2**63, 0.000001, 29.999, 30, 100, 100.0001, 700, 700.0001, 1500, 2000, 30.0, 150.05,
                     10**400, -(10**400)]),  # valid JSON beyond the float range (float() raises OverflowError)
)
absurd_numbers = st.one_of(numbers, st.sampled_from([float("nan"), float("inf"), float("-inf"), 10**400]))


def json_leaf(allow_nan: bool = True) -> st.SearchStrategy:
    return st.one_of(st.none(), st.booleans(), absurd_numbers if allow_nan else numbers, weird_text)


def junk(allow_nan: bool = True) -> st.SearchStrategy:
    """Any JSON value, nested a little."""
    return st.recursive(json_leaf(allow_nan),
                        lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                        max_leaves=12)


def deep(depth: int, leaf: Any = 1) -> Any:
    """A list/dict nested `depth` levels (no recursion in Python, so no RecursionError here)."""
    obj: Any = leaf
    for i in range(depth):
        obj = [obj] if i % 2 else {"a": obj}
    return obj


deep_values = st.sampled_from([10, 50, 200, 900]).map(deep)

fhir_dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),  # years 0001..9999: past and far future
    st.dates().map(lambda d: f"{d.isoformat()}T12:34:56Z"),
    st.dates().map(lambda d: f"{d.isoformat()}T23:59:59.999+14:00"),
    st.sampled_from(["2024", "2024-05", "2099-12-31", "9999-12-31T23:59:59Z", "0001-01-01", "2024-13-45",
                     "2024-02-30", "yesterday", "", "2024-05-01T25:61:61Z", "+10000-01-01", "2024-05-01T12:00",
                     "1969-12-31T23:59:59-23:59"]),
    json_leaf(),
)


def maybe_wrong(good: st.SearchStrategy, allow_nan: bool = True) -> st.SearchStrategy:
    """Mostly the right value, sometimes junk, a huge string or a deep structure."""
    return weighted((3, good), (1, junk(allow_nan)), (1, deep_values))


def _mutate(base: st.SearchStrategy, allow_nan: bool) -> st.SearchStrategy:
    """Apply up to three mutations to a generated dict: drop a key, or replace its value with junk."""
    mutation = st.tuples(st.sampled_from(["drop", "junk", "junk", "deep"]), st.integers(0, 63),
                         st.one_of(junk(allow_nan), st.sampled_from([5, 20, 40, 40, 200])))

    def apply(args: tuple[dict, list]) -> dict:
        obj, muts = args
        obj = dict(obj)
        for kind, idx, value in muts:
            keys = [k for k in obj if k != "resourceType"]
            if not keys:
                break
            k = keys[idx % len(keys)]
            if kind == "drop":
                obj.pop(k)
            elif kind == "junk":
                obj[k] = value
            else:
                obj[k] = deep(value if isinstance(value, int) and not isinstance(value, bool)
                              and 0 < value <= 200 else 30)
        return obj

    return st.tuples(base, st.lists(mutation, max_size=3)).map(apply)


def coding(system: str, codes: list[str]) -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {"system": weighted((6, st.just(SYSTEMS[system])), (1, st.sampled_from(list(SYSTEMS.values()))),
                            (1, weird_text)),
         "code": weighted((6, st.sampled_from(codes)), (1, weird_text))},
        optional={"display": weird_text})


def codeable(system: str, codes: list[str], texts: list[str] | None = None) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional={
        "coding": st.lists(coding(system, codes), max_size=3),
        "text": st.sampled_from(texts) if texts else weird_text,
    })


quantity = st.fixed_dictionaries({}, optional={
    "value": numbers,
    "unit": st.one_of(st.sampled_from(_UNITS), weird_text),
    "system": st.sampled_from([SYSTEMS["ucum"], SYSTEMS["ucum"], "http://example.org/units", ""]),
    "code": st.sampled_from(_UNITS),
    "comparator": st.sampled_from(["<", "<=", ">=", ">", "ad", "=", "≥"]),
})

reference = st.one_of(st.sampled_from(["Patient/p1", "Patient/other", "Observation/x", "#contained", ""]),
                      weird_text).map(lambda r: {"reference": r})
ids = st.one_of(st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True), weird_text)


def _resource(rtype: str, required: dict, optional: dict, allow_nan: bool) -> st.SearchStrategy:
    base = st.fixed_dictionaries({"resourceType": st.just(rtype), **required}, optional=optional)
    return weighted((2, base), (1, _mutate(base, allow_nan)))


def observation(allow_nan: bool = True) -> st.SearchStrategy:
    component = st.fixed_dictionaries({"code": codeable("loinc", _LOINC)},
                                      optional={"valueQuantity": quantity, "valueString": weird_text})
    return _resource("Observation", {"code": codeable("loinc", _LOINC)}, {
        "id": ids,
        "status": st.sampled_from(["final", "amended", "corrected", "preliminary", "entered-in-error",
                                   "cancelled", "registered", "unknown", "FINAL", ""]),
        "subject": reference,
        "effectiveDateTime": fhir_dates,
        "effectivePeriod": st.fixed_dictionaries({}, optional={"start": fhir_dates, "end": fhir_dates}),
        "issued": fhir_dates,
        "valueQuantity": quantity,
        "valueString": weird_text,
        "valueCodeableConcept": codeable("snomed", _SNOMED),
        "dataAbsentReason": codeable("snomed", ["unknown", "error"]),
        "component": st.lists(component, max_size=3),
        "hasMember": st.lists(reference, max_size=2),
        "derivedFrom": st.lists(reference, max_size=2),
        "referenceRange": st.lists(st.fixed_dictionaries({}, optional={"low": quantity, "high": quantity}),
                                   max_size=2),
    }, allow_nan)


def condition(allow_nan: bool = True) -> st.SearchStrategy:
    status = lambda vals: st.fixed_dictionaries({"coding": st.lists(st.fixed_dictionaries(  # noqa: E731
        {"system": st.just("http://terminology.hl7.org/CodeSystem/x"), "code": st.sampled_from(vals)}),
        max_size=2)})
    return _resource("Condition", {"code": st.one_of(codeable("snomed", _SNOMED), codeable("icd10", _ICD10))}, {
        "id": ids,
        "subject": reference,
        "clinicalStatus": status(["active", "recurrence", "relapse", "inactive", "remission", "resolved", "?"]),
        "verificationStatus": status(["confirmed", "provisional", "refuted", "entered-in-error",
                                      "unconfirmed"]),
        "onsetDateTime": fhir_dates,
        "recordedDate": fhir_dates,
        "abatementDateTime": fhir_dates,
        "category": st.lists(codeable("snomed", ["problem-list-item", "encounter-diagnosis"]), max_size=2),
    }, allow_nan)


def dosage(allow_nan: bool = True) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional={
        "text": weird_text,
        "route": codeable("snomed", ["34206005", "47625008", "26643006"]),
        "timing": st.fixed_dictionaries({}, optional={"repeat": st.fixed_dictionaries({}, optional={
            "frequency": numbers, "period": numbers,
            "periodUnit": st.one_of(st.sampled_from(["wk", "d", "mo", "a", "h", "s", "min"]), weird_text)})}),
        "doseAndRate": st.lists(st.fixed_dictionaries({}, optional={"doseQuantity": quantity}), max_size=2),
    })


def _medication(rtype: str, allow_nan: bool) -> st.SearchStrategy:
    return _resource(rtype, {}, {
        "id": ids,
        "status": st.sampled_from(["active", "completed", "stopped", "on-hold", "draft", "intended",
                                   "entered-in-error", "cancelled", "unknown", ""]),
        "intent": st.sampled_from(["order", "proposal", "plan", "original-order", ""]),
        "subject": reference,
        "medicationCodeableConcept": codeable("rxnorm", _RXNORM, _MED_NAMES),
        "medicationReference": st.one_of(reference, st.fixed_dictionaries({"reference": st.just("Medication/m1")},
                                                                          optional={"display": st.sampled_from(_MED_NAMES)})),
        "authoredOn": fhir_dates,
        "effectiveDateTime": fhir_dates,
        "effectivePeriod": st.fixed_dictionaries({}, optional={"start": fhir_dates, "end": fhir_dates}),
        "dispenseRequest": st.fixed_dictionaries({}, optional={"validityPeriod": st.fixed_dictionaries(
            {}, optional={"start": fhir_dates, "end": fhir_dates})}),
        "dosageInstruction": st.lists(dosage(allow_nan), max_size=2),
        "dosage": st.lists(dosage(allow_nan), max_size=2),
    }, allow_nan)


def medication_request(allow_nan: bool = True) -> st.SearchStrategy:
    return _medication("MedicationRequest", allow_nan)


def medication_statement(allow_nan: bool = True) -> st.SearchStrategy:
    return _medication("MedicationStatement", allow_nan)


def allergy(allow_nan: bool = True) -> st.SearchStrategy:
    reaction = st.fixed_dictionaries({}, optional={
        "manifestation": st.lists(codeable("snomed", ["4386001", "56018004", "267101005", "271807003"],
                                           ["bronchospasm", "wheeze", "rhinorrhoea", "hives"]), max_size=3),
        "substance": codeable("rxnorm", _RXNORM, ["aspirin", "ibuprofen", "NSAID"]),
    })
    return _resource("AllergyIntolerance", {}, {
        "id": ids,
        "patient": reference,
        "code": st.one_of(codeable("snomed", ["387458008", "762952008", "256277009", "91935009"],
                                   ["aspirin", "peanut", "house dust mite", "grass pollen", "ibuprofen"]),
                          codeable("rxnorm", _RXNORM, _MED_NAMES)),
        "category": st.lists(st.sampled_from(["food", "medication", "environment", "biologic", "x"]), max_size=2),
        "type": st.sampled_from(["allergy", "intolerance", "other"]),
        "clinicalStatus": codeable("snomed", ["active", "inactive", "resolved"]),
        "verificationStatus": codeable("snomed", ["confirmed", "refuted", "entered-in-error"]),
        "recordedDate": fhir_dates,
        "reaction": st.lists(reaction, max_size=3),
    }, allow_nan)


def patient(allow_nan: bool = True, pid: str = "p1") -> st.SearchStrategy:
    return _resource("Patient", {"id": st.just(pid)}, {
        "birthDate": fhir_dates,
        "gender": st.sampled_from(["female", "male", "other", "unknown", "x"]),
        "name": st.lists(st.fixed_dictionaries({}, optional={"family": weird_text,
                                                             "given": st.lists(weird_text, max_size=2)}),
                         max_size=2),
        "deceasedBoolean": st.booleans(),
    }, allow_nan)


operation_outcome = st.just({"resourceType": "OperationOutcome",
                             "issue": [{"severity": "error", "code": "timeout"}]})


def bundle(resource: st.SearchStrategy, allow_nan: bool = True, max_entries: int = 6) -> st.SearchStrategy:
    entry = weighted((6, st.fixed_dictionaries({"resource": resource}, optional={"fullUrl": weird_text})),
                     (1, junk(allow_nan)))
    good = st.fixed_dictionaries({"resourceType": st.just("Bundle"),
                                  "entry": st.lists(entry, max_size=max_entries)},
                                 optional={"type": st.sampled_from(["searchset", "collection", "batch", "x"]),
                                           "total": numbers,
                                           "link": st.lists(st.fixed_dictionaries(
                                               {"relation": st.sampled_from(["next", "self"]),
                                                "url": st.sampled_from(["http://127.0.0.1:9/x", "javascript:x",
                                                                        "file:///etc/passwd"])}),
                                               max_size=2)})
    return weighted((3, good), (1, _mutate(good, allow_nan)))


# Prefetch key -> resource kind it carries (keys of docs/architecture.md).
PREFETCH_KINDS = {
    "totalIge": "Observation", "eosinophils": "Observation", "lte4": "Observation", "weight": "Observation",
    "egfr": "Observation", "bloodPressure": "Observation", "specificIge": "Observation",
    "conditions": "Condition", "medicationRequests": "MedicationRequest",
    "medicationStatements": "MedicationStatement", "allergies": "AllergyIntolerance",
}


def _by_kind(kind: str, allow_nan: bool) -> st.SearchStrategy:
    return {"Observation": observation, "Condition": condition, "MedicationRequest": medication_request,
            "MedicationStatement": medication_statement, "AllergyIntolerance": allergy}[kind](allow_nan)


def prefetch(allow_nan: bool = True, pid: str = "p1", *, patient_required: bool = True) -> st.SearchStrategy:
    """A prefetch object: each key absent, null, an OperationOutcome, a (mutated) Bundle, or junk."""
    def value(kind: str) -> st.SearchStrategy:
        return weighted((1, st.none()), (1, operation_outcome), (14, bundle(_by_kind(kind, allow_nan), allow_nan)),
                        (1, _by_kind(kind, allow_nan)), (1, junk(allow_nan)))

    optional = {k: value(kind) for k, kind in PREFETCH_KINDS.items()}
    pat = weighted((6, patient(allow_nan, pid)), (1, st.none()), (1, operation_outcome), (1, junk(allow_nan)))
    if patient_required:
        base = st.fixed_dictionaries({"patient": pat}, optional=optional)
    else:
        optional["patient"] = pat
        base = st.fixed_dictionaries({}, optional=optional)
    return weighted((9, base), (1, st.tuples(base, st.integers(0, 31)).map(_add_huge)))


def _add_huge(args: tuple[dict, int]) -> dict:
    """Put one 200 000-character string somewhere a mapping reads text (a name, a code, a unit)."""
    pf, i = args
    pf = dict(pf)
    victims: list[dict] = []
    for v in pf.values():
        if isinstance(v, dict):
            victims.append(v)
            for e in v.get("entry") or [] if isinstance(v.get("entry"), list) else []:
                if isinstance(e, dict) and isinstance(e.get("resource"), dict):
                    victims.append(e["resource"])
    if not victims:
        pf["patient"] = {"resourceType": "Patient", "id": "p1", "name": [{"family": "A" * HUGE}]}
        return pf
    target = victims[i % len(victims)]
    field_name = ["code", "valueQuantity", "name", "status", "text", "id"][i % 6]
    target[field_name] = ({"text": "A" * HUGE, "coding": [{"system": "http://loinc.org", "code": "9" * HUGE}]}
                          if field_name == "code" else
                          {"value": 1, "unit": "u" * HUGE, "code": "u" * HUGE} if field_name == "valueQuantity"
                          else "A" * HUGE)
    return pf


def draft_orders(allow_nan: bool = True) -> st.SearchStrategy:
    """draftOrders Bundle (type collection, or none), MedicationRequests with doses."""
    mr = medication_request(allow_nan).map(lambda r: {**r, "status": r.get("status", "draft")}
                                           if isinstance(r, dict) else r)
    return weighted((5, bundle(mr, allow_nan, max_entries=4)), (1, junk(allow_nan)))


# -- seeded fuzzing: real demo patients, mutated -------------------------------------------------------
_MUTATION_KINDS = ("value", "value", "value", "unit", "date", "date", "status", "code", "drop", "junk", "birthDate",
                   "comparator", "duplicate", "dose")


def _resources_in(request: dict) -> list[dict]:
    out: list[dict] = []
    for v in (request.get("prefetch") or {}).values():
        if isinstance(v, dict):
            if v.get("resourceType") == "Bundle":
                out += [e["resource"] for e in v.get("entry") or [] if isinstance(e.get("resource"), dict)]
            else:
                out.append(v)
    drafts = (request.get("context") or {}).get("draftOrders")
    if isinstance(drafts, dict):
        out += [e["resource"] for e in drafts.get("entry") or [] if isinstance(e.get("resource"), dict)]
    return out


def _apply_mutation(request: dict, mutation: tuple) -> None:
    kind, idx, number, unit, when, word, junk_value = mutation
    res = _resources_in(request)
    if not res:
        return
    r = res[idx % len(res)]
    if kind == "value" and isinstance(r.get("valueQuantity"), dict):
        r["valueQuantity"]["value"] = number
    elif kind == "value" and isinstance(r.get("component"), list) and r["component"]:
        c = r["component"][idx % len(r["component"])]
        if isinstance(c, dict):
            c["valueQuantity"] = {**(c.get("valueQuantity") or {}), "value": number}
    elif kind == "unit" and isinstance(r.get("valueQuantity"), dict):
        r["valueQuantity"]["unit"] = unit
        r["valueQuantity"]["code"] = unit
    elif kind == "date":
        for k in ("effectiveDateTime", "issued", "authoredOn", "recordedDate", "onsetDateTime"):
            if k in r:
                r[k] = when
                break
        else:
            r["effectiveDateTime"] = when
    elif kind == "status":
        r["status"] = word
    elif kind == "code" and isinstance(r.get("code"), dict) and r["code"].get("coding"):
        r["code"]["coding"][0]["code"] = word
    elif kind == "drop":
        keys = [k for k in r if k not in ("resourceType", "id")]
        if keys:
            r.pop(keys[idx % len(keys)])
    elif kind == "junk":
        keys = [k for k in r if k not in ("resourceType", "id")]
        if keys:
            r[keys[idx % len(keys)]] = junk_value
    elif kind == "birthDate" and r.get("resourceType") == "Patient":
        r["birthDate"] = when
    elif kind == "comparator" and isinstance(r.get("valueQuantity"), dict):
        r["valueQuantity"]["comparator"] = word if word in ("<", "<=", ">=", ">") else ">"
    elif kind == "duplicate" and r.get("resourceType") != "Patient":
        twin = json.loads(json.dumps(r))
        twin["id"] = f"{r.get('id', 'x')}-twin"
        if isinstance(twin.get("valueQuantity"), dict):
            twin["valueQuantity"]["value"] = number
        for v in (request.get("prefetch") or {}).values():
            if isinstance(v, dict) and any(e.get("resource") is r for e in v.get("entry") or []):
                v["entry"].append({"resource": twin})
                break
    elif kind == "dose":
        for d in r.get("dosageInstruction") or []:
            if isinstance(d, dict):
                for dr in d.get("doseAndRate") or []:
                    if isinstance(dr, dict) and isinstance(dr.get("doseQuantity"), dict):
                        dr["doseQuantity"]["value"] = number
                rep = (d.get("timing") or {}).get("repeat") if isinstance(d.get("timing"), dict) else None
                if isinstance(rep, dict):
                    rep["period"] = number if idx % 2 else rep.get("period")


def demo_requests(allow_nan: bool = True) -> st.SearchStrategy:
    """A demo patient's hook request (any hook, any demo draft) with up to 6 targeted mutations."""
    import rel_demo

    mutation = st.tuples(
        st.sampled_from(_MUTATION_KINDS), st.integers(0, 500), numbers, st.sampled_from(_UNITS),
        fhir_dates, st.sampled_from(["final", "amended", "preliminary", "entered-in-error", "cancelled", "draft",
                                     "active", "stopped", "completed", "on-hold", "", "19113-0", "29463-7",
                                     "<", ">", "X" * 1000]),
        junk(allow_nan))
    base = st.tuples(st.sampled_from(rel_demo.slugs()), st.sampled_from(["patient-view", "order-select",
                                                                         "order-sign"]),
                     st.sampled_from(rel_demo.DRAFTS))

    def build(args: tuple) -> dict:
        (slug, hook, draft), muts = args
        req = rel_demo.request_for(slug, hook, (draft,))
        for m in muts:
            _apply_mutation(req, m)
        return req

    return st.tuples(base, st.lists(mutation, max_size=6)).map(build)
