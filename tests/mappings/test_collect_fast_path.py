"""extract._collect's one-loop path for a searchset Bundle equals the general bundle_entries path."""

from __future__ import annotations

import copy
import random
from datetime import date

from fhir_mappings import extract
from fhir_mappings.fhirutil import bundle_entries


def _reference_collect(data, ctx, unavailable_keys):
    """_collect as it was: every Bundle through bundle_entries."""
    by_type: dict = {}
    med_index = extract.MedicationIndex()
    seen: set = set()
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
        for full_url, res in bundle_entries(value):
            if res.get("resourceType") == "Bundle":
                for fu2, r2 in bundle_entries(res):
                    extract._add(r2, fu2, by_type, med_index, seen, ctx, str(key))
                continue
            extract._add(res, full_url, by_type, med_index, seen, ctx, str(key))
    return by_type, med_index


_RES = [
    {"resourceType": "Observation", "id": "o1"}, {"resourceType": "Observation", "id": "o1"},
    {"resourceType": "Observation"}, {"resourceType": "Medication", "id": "m1"}, {"resourceType": "Medication"},
    {"resourceType": "Condition", "id": ""}, {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]},
    {"resourceType": "OperationOutcome", "issue": [{"severity": "information"}]}, {"id": "no-type"},
    {"resourceType": 5}, {"resourceType": "DiagnosticReport", "id": "r"}, {"resourceType": "Encounter", "id": "e"},
    {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Medication", "id": "m2"},
                                          "fullUrl": "urn:uuid:2"}]},
]
_ENTRIES = [None, 1, "x", [], {}, {"resource": None}, {"resource": []}, {"fullUrl": "urn:uuid:x"}]


def _entry(rng):
    if rng.random() < 0.2:
        return copy.deepcopy(rng.choice(_ENTRIES))
    e = {"resource": copy.deepcopy(rng.choice(_RES))}
    if rng.random() < 0.6:
        e["fullUrl"] = rng.choice(["urn:uuid:1", "", "  ", None, 3, "http://x/Medication/m9"])
    return e


def test_collect_fast_path_equals_reference():
    rng = random.Random(7)
    for _ in range(1500):
        data = {}
        for k in range(rng.randint(1, 4)):
            shape = rng.random()
            if shape < 0.7:
                value = {"resourceType": "Bundle", "entry": [_entry(rng) for _ in range(rng.randint(0, 6))]}
            elif shape < 0.8:
                value = {"resourceType": "Bundle", "entry": rng.choice([None, {}, "x"])}
            elif shape < 0.9:
                value = {"entry": [_entry(rng) for _ in range(2)]}
            else:
                value = copy.deepcopy(rng.choice(_RES + [None, [], "x"]))
            data[f"k{k}"] = value
        ctx_a = extract._Ctx("p", date(2026, 1, 1), [])
        ctx_b = extract._Ctx("p", date(2026, 1, 1), [])
        ua, ub = [], []
        by_a, med_a = extract._collect(copy.deepcopy(data), ctx_a, ua)
        by_b, med_b = _reference_collect(copy.deepcopy(data), ctx_b, ub)
        assert by_a == by_b and ctx_a.issues == ctx_b.issues and ua == ub
        assert med_a._by_key == med_b._by_key
