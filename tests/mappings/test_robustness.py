"""Messy input: malformed resources are skipped and reported, odd shapes never raise."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_mappings import extract_facts
from tests.mappings.fhirdata import PID, bp_panel, bundle, condition, lab, med_request, patient, vital

EVAL = date(2025, 7, 1)


def run(data, **kw):
    return extract_facts(data, patient_id=PID, evaluation_date=EVAL, **kw)


def test_malformed_resource_is_skipped_and_reported_the_rest_goes_on():
    bad = lab("bad-ige", "19113-0", 900, unit="IU/mL", code="[IU]/mL", when="2024-05-01")
    bad["status"] = "finalised"  # not a valid ObservationStatus -> status rule refuses it
    worse = lab("worse-ige", "19113-0", 800, unit="IU/mL", code="[IU]/mL", when="2024-06-01")
    worse["subject"] = "Patient/pat-1"  # Reference must be an object: fails FHIR validation
    good = lab("good-ige", "19113-0", 120, unit="IU/mL", code="[IU]/mL", when="2024-01-01")
    f = run({"patient": patient(), "totalIge": bundle(bad, worse, good),
             "weight": vital("w", "29463-7", 70, "kg", "kg")})
    assert f.total_ige.measurement.source.resource_id == "good-ige"
    assert f.weight.value == 70
    invalid = [i for i in f.issues if i.reference == "Observation/worse-ige"]
    assert invalid and "not valid FHIR R4 Observation" in invalid[0].problem and "subject" in invalid[0].problem
    assert any(i.reference == "Observation/bad-ige" and "finalised" in i.problem for i in f.issues)


def test_invalid_condition_and_medication_are_reported():
    c = condition("c", "195967001")
    c["onsetDateTime"] = "yesterday"
    m = med_request("m", text="Xolair")
    m["authoredOn"] = "last Tuesday"
    f = run({"patient": patient(), "x": bundle(c, m)})
    assert f.conditions == () and f.medications == ()
    refs = {i.reference for i in f.issues}
    assert {"Condition/c", "MedicationRequest/m"} <= refs


def test_whole_patient_bundle_under_one_key_without_type():
    everything = bundle(patient(), lab("ige", "19113-0", 300, unit="kU/L", when="2024-01-01"),
                        bp_panel("bp", 150, 90), condition("c", "195967001"),
                        med_request("m", text="Singulair"), btype=None)
    f = run({"patient": None, "conditions": everything})
    assert f.age_years == 45
    assert f.total_ige.measurement.value == 300
    assert f.bp_latest.systolic.value == 150
    assert [c.concept for c in f.conditions] == ["asthma"]
    assert [m.agent for m in f.medications] == ["montelukast"]


def test_duplicates_across_keys_are_counted_once():
    obs = lab("ige", "19113-0", 300, unit="kU/L", when="2024-01-01")
    f = run({"patient": patient(), "totalIge": bundle(obs), "all": bundle(obs, patient())})
    assert f.total_ige.measurement.value == 300 and f.total_ige.excluded == ()


def test_operation_outcome_marks_the_key_unavailable():
    oo = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    f = run({"patient": patient(), "egfr": oo}, unavailable=["bloodPressure"])
    assert f.unavailable == ("bloodPressure", "egfr")
    assert any(i.reference == "egfr" for i in f.issues)


def test_resources_of_another_patient_are_ignored():
    other = lab("ige", "19113-0", 300, unit="kU/L", when="2024-01-01", subject="someone-else")
    f = run({"patient": patient(), "totalIge": bundle(other)})
    assert f.total_ige.status == "missing"
    assert any("someone-else" in i.problem for i in f.issues)


@pytest.mark.parametrize("data", [
    None, [], "bundle", 42, {"patient": "Patient/1"}, {"patient": []}, {"x": {"entry": None}},
    {"x": {"resourceType": "Bundle", "entry": [None, "x", {"resource": None}, {"resource": {"id": "1"}}]}},
    {"x": {"resourceType": "Observation"}},
    {"x": {"resourceType": "Observation", "code": {"coding": "19113-0"}}},
    {"x": {"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "19113-0"}]},
           "status": "final", "valueQuantity": {"value": "abc", "unit": "IU/mL"}}},
    {"x": {"resourceType": "Observation", "status": "final", "effectiveDateTime": "not a date",
           "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
           "valueQuantity": {"value": float("nan"), "unit": "kg"}}},
    {"x": {"resourceType": "Patient", "id": PID, "birthDate": "01/02/1990"}},
    {"x": {"resourceType": "Condition", "code": None, "clinicalStatus": "active"}},
    {"x": {"resourceType": "MedicationRequest", "medicationReference": {"reference": 7}}},
    {"x": {"resourceType": "AllergyIntolerance", "code": {"text": 5}, "reaction": "bronchospasm"}},
    {"x": {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Bundle", "entry": [
        {"resource": {"resourceType": "Bundle", "entry": []}}]}}]}},
])
def test_garbage_never_raises(data):
    f = run(data)
    assert f.patient_id == PID and f.evaluation_date == EVAL


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=12),
                      st.sampled_from(["final", "19113-0", "http://loinc.org", "Observation", "kU/L", "2024-01-01",
                                       "Patient/pat-1", "active", "#m"]))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(["resourceType", "code", "coding", "system", "status", "valueQuantity",
                                     "value", "unit", "entry", "resource", "subject", "reference", "id",
                                     "effectiveDateTime", "component", "medicationReference", "contained"]),
                    inner, max_size=6)), max_leaves=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["patient", "totalIge", "conditions", "x"]), json_value, max_size=4))
def test_fuzzed_shapes_never_raise(data):
    f = run(data)
    assert f.patient_id == PID


def test_invalid_newest_result_falls_back_to_the_next_valid_one():
    newest = vital("w-new", "29463-7", 90, "kg", "kg", when="2025-06-01T10:00:00Z")
    newest["effectiveDateTime"] = "2025-06-01T10:00:00Z"
    newest["meta"] = {"lastUpdated": "June"}  # invalid instant: the resource fails validation
    older = vital("w-old", "29463-7", 70, "kg", "kg", when="2025-01-01T10:00:00Z")
    f = run({"patient": patient(), "weight": bundle(newest, older)})
    assert f.weight.source.resource_id == "w-old"
    assert any(i.reference == "Observation/w-new" and "not valid" in i.problem for i in f.issues)


def test_invalid_wbc_blocks_the_derived_eosinophil_count():
    t = "2025-05-01T08:00:00Z"
    wbc = lab("wbc", "6690-2", 7.5, unit="10*3/uL", code="10*3/uL", when=t)
    wbc["issued"] = "soon"
    f = run({"patient": patient(), "eos": bundle(lab("pct", "713-8", 4, unit="%", code="%", when=t), wbc)})
    assert f.eosinophils_latest is None
    assert any(i.reference == "Observation/wbc" for i in f.issues)


def test_an_internal_error_degrades_and_logs_no_patient_data(monkeypatch, caplog):
    import fhir_mappings.extract as ex

    def boom(*a, **k):
        raise ValueError("secret value 123 for Jane Doe")

    monkeypatch.setattr(ex, "_conditions", boom)
    f = run({"patient": patient(), "c": bundle(condition("c", "195967001"))})
    assert f.patient_id == PID and any(i.reference == "extract_facts" for i in f.issues)
    text = caplog.text
    assert "ValueError" in text and PID in text
    assert "Jane" not in text and "secret" not in text


def test_search_outcome_in_a_bundle():
    info = {"resourceType": "OperationOutcome", "issue": [{"severity": "information", "code": "informational"}]}
    err = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "too-costly"}]}
    f = run({"patient": patient(), "egfr": bundle(info)})
    assert not any(i.reference == "egfr" for i in f.issues)
    f = run({"patient": patient(), "egfr": bundle(err)})
    assert any(i.reference == "egfr" and "part of this data may be missing" in i.problem for i in f.issues)
