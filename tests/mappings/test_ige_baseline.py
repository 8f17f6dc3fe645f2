"""Baseline total IgE: newest before the first omalizumab start; never on treatment; interruptions."""
from __future__ import annotations

from datetime import date

from fhir_mappings import extract_facts
from tests.mappings.fhirdata import PID, bundle, lab, med_request, med_statement, patient

EVAL = date(2025, 7, 1)


def ige(oid, value, when):
    return lab(oid, "19113-0", value, unit="IU/mL", code="[IU]/mL", when=when)


def run(*resources, evaluation_date=EVAL):
    return extract_facts({"patient": patient(), "everything": bundle(*resources, btype=None)},
                         patient_id=PID, evaluation_date=evaluation_date).total_ige


def test_no_omalizumab_newest_result():
    b = run(ige("a", 150, "2023-01-01"), ige("b", 180, "2024-06-01"))
    assert b.status == "newest-no-omalizumab" and b.measurement.source.resource_id == "b"


def test_baseline_is_newest_before_first_start_and_on_treatment_results_are_excluded():
    xolair = med_request("mr-xol", rxnorm="302379", text="Xolair", status="active", authored="2024-03-01")
    b = run(ige("pre-old", 150, "2023-01-01"), ige("pre", 210, "2024-02-15"),
            ige("on-tx", 880, "2024-09-01"), xolair)
    assert b.status == "baseline-before-omalizumab"
    assert b.measurement.source.resource_id == "pre" and b.measurement.value == 210
    assert [m.source.resource_id for m in b.excluded] == ["on-tx"]
    assert "2024-03-01" in b.note


def test_first_start_from_the_earliest_course_and_statement_dates():
    # a later MedicationRequest and an earlier MedicationStatement (patient-reported) course
    req = med_request("mr", text="omalizumab 300 mg", status="active", authored="2025-01-10")
    stmt = med_statement("ms", text="Xolair", status="completed", start="2022-01-01", end="2022-10-01")
    b = run(ige("pre", 300, "2021-12-01"), ige("between", 700, "2023-03-01"), req, stmt)
    # 'between' was drawn within a year of stopping (2022-10-01): excluded; interruption < 1 year before restart
    assert b.status == "baseline-before-omalizumab"
    assert b.measurement.source.resource_id == "pre"
    assert "between" in [m.source.resource_id for m in b.excluded]


def test_only_on_treatment():
    xolair = med_request("mr", text="XOLAIR 150 MG/ML", status="active", authored="2023-01-01")
    b = run(ige("on1", 900, "2023-06-01"), ige("on2", 950, "2024-06-01"), xolair)
    assert b.status == "only-on-treatment" and b.measurement is None
    assert {m.source.resource_id for m in b.excluded} == {"on1", "on2"}


def test_within_a_year_after_stopping_is_excluded():
    stopped = med_request("mr", text="omalizumab", status="stopped", authored="2022-01-01",
                          bounds={"start": "2022-01-01", "end": "2024-12-01"})
    b = run(ige("pre", 250, "2021-11-01"), ige("after-stop", 600, "2025-05-01"), stopped)
    assert b.status == "baseline-before-omalizumab" and b.measurement.source.resource_id == "pre"
    assert [m.source.resource_id for m in b.excluded] == ["after-stop"]


def test_interruption_of_a_year_or_more_asks_for_a_retest():
    stopped = med_request("mr", text="omalizumab", status="completed", authored="2020-01-01",
                          bounds={"start": "2020-01-01", "end": "2023-06-01"})
    b = run(ige("pre", 250, "2019-11-01"), stopped)
    assert b.status == "retest-after-interruption"
    assert b.measurement.source.resource_id == "pre"
    assert "2023-06-01" in b.note


def test_retest_after_interruption_becomes_the_baseline():
    stopped = med_request("mr", text="omalizumab", status="completed", authored="2020-01-01",
                          bounds={"start": "2020-01-01", "end": "2023-06-01"})
    b = run(ige("pre", 250, "2019-11-01"), ige("retest", 410, "2025-01-15"), stopped)
    assert b.status == "baseline-before-omalizumab"
    assert b.measurement.source.resource_id == "retest"
    assert "re-test" in b.note


def test_active_course_without_start_date_cannot_place_any_result():
    no_date = med_request("mr", text="Xolair", status="active", authored=None)
    b = run(ige("a", 250, "2019-11-01"), no_date)
    assert b.status == "only-on-treatment" and b.measurement is None
    assert "without a start date" in b.note


def test_missing_when_no_result():
    assert run().status == "missing"


def test_result_on_the_start_day_is_not_a_baseline():
    xolair = med_request("mr", rxnorm="302379", status="active", authored="2024-03-01")
    b = run(ige("pre", 100, "2024-01-01"), ige("same-day", 140, "2024-03-01T09:00:00Z"), xolair)
    assert b.measurement.source.resource_id == "pre"
    assert [m.source.resource_id for m in b.excluded] == ["same-day"]


def test_omalizumab_product_code_and_biosimilar_name_count_as_courses():
    omlyclo = med_request("mr", rxnorm="2726001", text="Omlyclo 150 MG/ML", status="active", authored="2024-05-01")
    b = run(ige("pre", 100, "2024-04-01"), ige("on", 500, "2024-08-01"), omlyclo)
    assert b.status == "baseline-before-omalizumab" and b.measurement.source.resource_id == "pre"


def test_course_without_stop_date_is_treated_as_on_treatment_and_says_so():
    old = med_request("mr", text="Xolair", status="completed", authored="2019-01-01")
    b = run(ige("pre", 200, "2018-12-01"), ige("later", 650, "2024-01-01"), old)
    assert b.status == "baseline-before-omalizumab" and b.measurement.source.resource_id == "pre"
    assert [m.source.resource_id for m in b.excluded] == ["later"]
    assert "without a stop date" in b.note and "re-test" in b.note


def test_weight_at_omalizumab_start_is_the_newest_weight_on_or_before_the_first_start():
    from tests.mappings.fhirdata import vital

    xolair = med_request("mr-xol", rxnorm="302379", text="Xolair", status="active", authored="2024-03-01")
    weights = [vital("w-old", "29463-7", 70, "kg", "kg", when="2023-05-01T10:00:00Z"),
               vital("w-start", "29463-7", 78, "kg", "kg", when="2024-03-01T09:00:00Z"),
               vital("w-now", "29463-7", 95, "kg", "kg", when="2025-06-01T10:00:00Z")]
    facts = extract_facts({"patient": patient(), "everything": bundle(*weights, xolair)},
                          patient_id=PID, evaluation_date=EVAL)
    assert facts.weight.source.resource_id == "w-now"
    assert facts.weight_at_omalizumab_start.source.resource_id == "w-start"
    assert facts.weight_at_omalizumab_start.value == 78


def test_no_weight_at_start_without_omalizumab_or_without_an_earlier_weight():
    from tests.mappings.fhirdata import vital

    w = vital("w-now", "29463-7", 95, "kg", "kg", when="2025-06-01T10:00:00Z")
    facts = extract_facts({"patient": patient(), "everything": bundle(w)}, patient_id=PID, evaluation_date=EVAL)
    assert facts.weight_at_omalizumab_start is None
    xolair = med_request("mr-xol", rxnorm="302379", text="Xolair", status="active", authored="2024-03-01")
    facts = extract_facts({"patient": patient(), "everything": bundle(w, xolair)}, patient_id=PID,
                          evaluation_date=EVAL)
    assert facts.weight is not None and facts.weight_at_omalizumab_start is None


def _facts(*resources):
    return extract_facts({"patient": patient(), "everything": bundle(*resources, btype=None)},
                         patient_id=PID, evaluation_date=EVAL)


def test_no_omalizumab_an_invalid_newest_result_is_skipped_and_said_the_older_valid_one_doses():
    bad = ige("new-bad", 400, "2025-01-01")
    bad["issued"] = "15 Jan 2025"  # not a FHIR instant: read by no decision here, refused by validation
    facts = _facts(ige("old", 150, "2023-01-01"), bad)
    assert facts.total_ige.status == "newest-no-omalizumab"
    assert facts.total_ige.measurement.source.resource_id == "old"
    assert any("Observation/new-bad" in i.reference and "not valid FHIR R4" in i.problem for i in facts.issues)


def test_no_omalizumab_results_older_than_the_newest_valid_one_are_not_validated():
    """Validate only what decisions use: without omalizumab only the newest result doses."""
    bad = ige("old-bad", 400, "2023-01-01")
    bad["issued"] = "15 Jan 2025"  # not a FHIR instant: read by no decision here, refused by validation
    facts = _facts(bad, ige("new", 150, "2025-01-01"))
    assert facts.total_ige.measurement.source.resource_id == "new"
    assert not any("old-bad" in (i.reference or "") for i in facts.issues)


def test_on_omalizumab_every_result_is_validated_because_excluded_ones_are_shown():
    xolair = med_request("mr", text="Xolair", status="active", authored="2024-03-01")
    bad = ige("on-tx-bad", 880, "2024-09-01")
    bad["issued"] = "15 Jan 2025"  # not a FHIR instant: read by no decision here, refused by validation
    facts = _facts(ige("pre", 210, "2024-02-15"), bad, xolair)
    assert facts.total_ige.measurement.source.resource_id == "pre"
    assert [m.source.resource_id for m in facts.total_ige.excluded] == []
    assert any("on-tx-bad" in (i.reference or "") for i in facts.issues)
