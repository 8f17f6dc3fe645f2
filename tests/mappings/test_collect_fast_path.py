"""extract._collect reads a searchset Bundle's usual entries inline: it must group, deduplicate, index
Medications and report exactly as the general reading through fhirutil.bundle_entries and _add
(kept here as the reference), on well-formed and malformed prefetch shapes."""
from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_mappings import extract as X
from fhir_mappings.fhirutil import bundle_entries
from fhir_mappings.medications import MedicationIndex


def _collect_reference(data, ctx, unavailable_keys):
    by_type, med_index, seen = {}, MedicationIndex(), set()
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
                    X._add(r2, fu2, by_type, med_index, seen, ctx, str(key))
                continue
            X._add(res, full_url, by_type, med_index, seen, ctx, str(key))
    return by_type, med_index


_types = st.sampled_from(["Observation", "Condition", "Medication", "MedicationRequest", "Patient", "Bundle",
                          "OperationOutcome", "DiagnosticReport", "Practitioner", None, 5])
_resource = st.fixed_dictionaries({}, optional={
    "resourceType": _types, "id": st.sampled_from(["a", "b", "", None, 3]),
    "issue": st.just([{"severity": "error"}]), "entry": st.just([{"resource": {"resourceType": "Condition", "id": "n"}}])})
_entry = st.one_of(st.none(), st.integers(), st.fixed_dictionaries({}, optional={
    "resource": st.one_of(_resource, st.none(), st.integers()), "fullUrl": st.sampled_from(["urn:uuid:1", "", None, 4])}))
_value = st.one_of(st.none(), st.integers(), _resource, st.fixed_dictionaries({}, optional={
    "resourceType": st.sampled_from(["Bundle", None, "OperationOutcome", "Observation"]),
    "entry": st.one_of(st.lists(_entry, max_size=5), st.none(), st.integers())}))


@settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), _value, max_size=4))
def test_collect_equals_the_bundle_entries_reading(data):
    ctx1, ctx2 = X._Ctx("p", date(2026, 1, 1), []), X._Ctx("p", date(2026, 1, 1), [])
    u1, u2 = [], []
    fast, med1 = X._collect(data, ctx1, u1)
    slow, med2 = _collect_reference(data, ctx2, u2)
    assert {k: [id(r) for r in v] for k, v in fast.items()} == {k: [id(r) for r in v] for k, v in slow.items()}
    assert {k: id(v) for k, v in med1._by_key.items()} == {k: id(v) for k, v in med2._by_key.items()}
    assert ctx1.issues == ctx2.issues and u1 == u2
