"""extract._collect's inline Bundle-entry path groups exactly what the general path (bundle_entries + _add,
kept here as the reference) groups, with the same issues, on demo prefetches and malformed Bundles."""
from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_mappings.extract import _add, _collect, _Ctx
from fhir_mappings.fhirutil import bundle_entries
from fhir_mappings.medications import MedicationIndex

DEMO = Path(__file__).resolve().parents[2] / "demo" / "patients"


def ref_collect(data, ctx, unavailable_keys):
    """_collect before the inline path (the reference)."""
    by_type: dict = {}
    med_index = MedicationIndex()
    seen: set = set()
    if not isinstance(data, dict):
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
        for full_url, res in bundle_entries(value):
            if res.get("resourceType") == "Bundle":
                for fu2, r2 in bundle_entries(res):
                    _add(r2, fu2, by_type, med_index, seen, ctx, str(key))
                continue
            _add(res, full_url, by_type, med_index, seen, ctx, str(key))
    return by_type, med_index


def _summary(data, fn):
    ctx = _Ctx("p1", date(2026, 1, 1), [])
    unavailable: list = []
    by_type, med_index = fn(copy.deepcopy(data), ctx, unavailable)
    return by_type, med_index._by_key, ctx.issues, unavailable


def _prefetches():
    """Each demo patient's Bundle as a whole-patient prefetch, split by resource type into searchset
    Bundles (the benchmark's shape), and nested in a Bundle."""
    for f in sorted(DEMO.glob("*.json")):
        doc = json.loads(f.read_text())
        entries = doc.get("entry", [])
        by_type: dict = {}
        for e in entries:
            by_type.setdefault(e["resource"]["resourceType"], []).append(e)
        split = {t: {"resourceType": "Bundle", "type": "searchset", "entry": es} for t, es in by_type.items()}
        yield f.stem + "-whole", {"all": doc}
        yield f.stem + "-split", dict(split, again={"resourceType": "Bundle", "entry": entries[:3]})
        yield f.stem + "-nested", {"n": {"resourceType": "Bundle", "entry": [{"resource": doc}] + entries[:2]}}


@pytest.mark.parametrize("name,prefetch", list(_prefetches()))
def test_demo_prefetch_collected_the_same(name, prefetch):
    assert _summary(prefetch, _collect) == _summary(prefetch, ref_collect)


_rtype = st.sampled_from(["Observation", "Condition", "Patient", "Medication", "MedicationRequest", "Bundle",
                          "OperationOutcome", "DiagnosticReport", "Encounter", None, 3, ["Observation"], ""])
_resource = st.fixed_dictionaries({"resourceType": _rtype}, optional={
    "id": st.sampled_from(["a", "b", "", None, 1, ["a"]]),
    "issue": st.just([{"severity": "error"}]),
    "entry": st.just([{"resource": {"resourceType": "Observation", "id": "n"}}]),
    "code": st.just({"text": "x"})})
_entry = st.one_of(st.fixed_dictionaries({}, optional={"resource": st.one_of(_resource, st.none(), st.integers()),
                                                       "fullUrl": st.sampled_from(["urn:uuid:1", "", None, 5])}),
                   st.none(), st.integers(), st.text(max_size=3))
_value = st.one_of(
    st.fixed_dictionaries({"resourceType": st.sampled_from(["Bundle", None, "Observation"]),
                           "entry": st.one_of(st.lists(_entry, max_size=6), st.none(), st.integers())}),
    st.fixed_dictionaries({}, optional={"entry": st.lists(_entry, max_size=4)}),
    _resource, st.none(), st.integers())


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), _value, max_size=4))
def test_random_prefetch_collected_the_same(data):
    assert _summary(data, _collect) == _summary(data, ref_collect)
