"""Observations: unit conversions, status and value rules, comparators, dates, pairing, selection."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from fhir_mappings import extract_facts
from tests.mappings.fhirdata import PID, UCUM, bp_panel, bundle, lab, patient, quantity, vital

EVAL = date(2025, 7, 1)


def facts(*resources, key="observations", **kw):
    return extract_facts({"patient": patient(), key: bundle(*resources)}, patient_id=PID,
                         evaluation_date=kw.pop("evaluation_date", EVAL), **kw)


def problems(f):
    return [i.problem for i in f.issues]


# ------------------------------------------------------------------------------- total IgE units
@pytest.mark.parametrize("unit,code,value,expected", [
    ("IU/mL", "[IU]/mL", 250, 250.0),
    ("kU/L", "k[IU]/L", 250, 250.0),
    ("kIU/L", None, 250, 250.0),
    ("[kU]/L", None, 250, 250.0),
    ("kU/L", "kU/L", 250, 250.0),  # non-UCUM 'code' some labs send: normalised
    ("ng/mL", "ng/mL", 605, 250.0),  # 605 / 2.42
    ("µg/L", "ug/L", 242, 100.0),
    ("IU/L", "[IU]/L", 250000, 250.0),
])
def test_total_ige_units(unit, code, value, expected):
    f = facts(lab("ige", "19113-0", value, unit=unit, code=code, when="2024-02-01"))
    m = f.total_ige.measurement
    assert f.total_ige.status == "newest-no-omalizumab"
    assert m.value == pytest.approx(expected)
    assert m.unit == "[IU]/mL"
    assert m.original_value == value and m.original_unit == unit
    assert m.source.reference == "Observation/ige" and m.source.code == "http://loinc.org|19113-0"


def test_mass_ige_code_with_ng_per_ml():
    f = facts(lab("ige", "2462-0", 121, unit="ng/mL", code="ng/mL", when="2024-02-01"))
    assert f.total_ige.measurement.value == pytest.approx(50.0)


@pytest.mark.parametrize("unit,code", [("mg/dL", "mg/dL"), ("U/L?", None), ("mmol/L", "mmol/L")])
def test_unknown_ige_unit_is_unusable_and_says_so(unit, code):
    f = facts(lab("ige", "19113-0", 250, unit=unit, code=code, when="2024-02-01"))
    assert f.total_ige.status == "missing"
    assert any(i.reference == "Observation/ige" and i.kind == "total-ige"
               and ("not a known" in i.problem or "not accepted" in i.problem) for i in f.issues), problems(f)


def test_missing_unit_is_unusable():
    f = facts(lab("ige", "19113-0", 250, when="2024-02-01"))
    assert f.total_ige.status == "missing"
    assert any("no unit" in p for p in problems(f))


@pytest.mark.parametrize("value", [10 ** 400, -(10 ** 400)], ids=["10**400", "-10**400"])
def test_an_integer_beyond_the_float_range_is_refused_and_the_rest_is_read(value):
    """Valid JSON can hold a 400-digit integer: that one result is refused with an issue; the other
    results (here a valid IgE and a blood pressure whose systolic is the huge one) are still read."""
    f = facts(lab("ige-huge", "19113-0", value, unit="IU/mL", code="[IU]/mL", when="2024-03-01"),
              lab("ige", "19113-0", 250, unit="IU/mL", code="[IU]/mL", when="2024-02-01"),
              bp_panel("bp", value, 85))
    assert f.total_ige.measurement.source.resource_id == "ige" and f.total_ige.measurement.value == 250.0
    assert f.bp_latest.systolic is None and f.bp_latest.diastolic.value == 85
    assert sum("beyond the numeric range" in p for p in problems(f)) == 2
    assert not any("internal error" in p for p in problems(f))


def test_comparators_are_kept():
    f = facts(lab("ige1", "19113-0", 1500, unit="kU/L", code="k[IU]/L", comparator=">", when="2024-02-01"))
    m = f.total_ige.measurement
    assert (m.value, m.comparator) == (1500.0, ">")
    f = facts(lab("ige2", "19113-0", 2, unit="kU/L", code="k[IU]/L", comparator="<", when="2024-02-01"))
    assert (f.total_ige.measurement.value, f.total_ige.measurement.comparator) == (2.0, "<")


def test_comparator_is_converted_with_the_value():
    f = facts(lab("ige", "19113-0", 2420, unit="ng/mL", code="ng/mL", comparator=">", when="2024-02-01"))
    assert (f.total_ige.measurement.value, f.total_ige.measurement.comparator) == (pytest.approx(1000.0), ">")


def test_data_absent_reason_means_no_value():
    obs = lab("ige", "19113-0", when="2024-02-01",
              dataAbsentReason={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                            "code": "error", "display": "Error"}]})
    f = facts(obs)
    assert f.total_ige.status == "missing"
    assert any("no value" in p and "Error" in p for p in problems(f))


def test_value_string_is_not_guessed():
    obs = lab("ige", "19113-0", when="2024-02-01", valueString=">1500")
    f = facts(obs)
    assert f.total_ige.status == "missing"
    assert any("not a quantity" in p for p in problems(f))


# --------------------------------------------------------------------------------- statuses
@pytest.mark.parametrize("status", ["final", "amended", "corrected"])
def test_used_statuses(status):
    f = facts(lab("ige", "19113-0", 100, unit="IU/mL", code="[IU]/mL", status=status, when="2024-02-01"))
    assert f.total_ige.measurement.status == status


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "registered"])
def test_ignored_statuses(status):
    f = facts(lab("ige", "19113-0", 100, unit="IU/mL", code="[IU]/mL", status=status, when="2024-02-01"))
    assert f.total_ige.status == "missing"


def test_preliminary_not_used_for_ige_but_used_for_blood_pressure():
    f = facts(lab("ige", "19113-0", 100, unit="IU/mL", code="[IU]/mL", status="preliminary", when="2024-02-01"),
              bp_panel("bp", 182, 112, status="preliminary"))
    assert f.total_ige.status == "missing"
    assert any("preliminary" in p for p in problems(f))
    assert f.bp_latest.systolic.value == 182 and f.bp_latest.systolic.status == "preliminary"


def test_newer_entered_in_error_result_does_not_hide_the_valid_one():
    f = facts(lab("ige-old", "19113-0", 120, unit="IU/mL", code="[IU]/mL", when="2024-01-01"),
              lab("ige-new", "19113-0", 900, unit="IU/mL", code="[IU]/mL", when="2024-06-01",
                  status="entered-in-error"))
    assert f.total_ige.measurement.source.resource_id == "ige-old"


# ------------------------------------------------------------------------------------ dates
def test_effective_period_instant_and_issued_fallback():
    a = lab("a", "29463-7", 70, unit="kg", code="kg", when=None, effectivePeriod={"start": "2025-01-02T08:00:00Z"})
    f = facts(a)
    assert f.weight.when == datetime(2025, 1, 2, 8, 0)
    b = lab("b", "29463-7", 71, unit="kg", code="kg", when=None, effectiveInstant="2025-02-03T08:00:00.000Z")
    assert facts(b).weight.when == datetime(2025, 2, 3, 8, 0)
    c = lab("c", "29463-7", 72, unit="kg", code="kg", when=None, issued="2025-03-04T08:00:00+02:00")
    assert facts(c).weight.when == datetime(2025, 3, 4, 6, 0)  # converted to UTC


def test_timezones_compare_correctly():
    # 23:30 at -05:00 is 04:30 UTC next day: newer than 02:00 UTC that day
    a = lab("a", "29463-7", 70, unit="kg", code="kg", when="2025-01-01T23:30:00-05:00")
    b = lab("b", "29463-7", 80, unit="kg", code="kg", when="2025-01-02T02:00:00Z")
    assert facts(a, b).weight.source.resource_id == "a"


def test_result_after_evaluation_date_not_used():
    f = facts(lab("w", "29463-7", 70, unit="kg", code="kg", when="2025-08-01"))
    assert f.weight is None
    assert any("after the evaluation date" in p for p in problems(f))


# -------------------------------------------------------------------------- codings, weights
def test_several_codings_local_code_first():
    local = {"system": "http://lab.example.org/codes", "code": "IGE-T", "display": "IgE total"}
    f = facts(lab("ige", "19113-0", 88, unit="IU/mL", code="[IU]/mL", when="2024-02-01", extra_codings=[local]))
    assert f.total_ige.measurement.value == 88


def test_loinc_system_oid_alias():
    obs = lab("ige", "19113-0", 88, unit="IU/mL", code="[IU]/mL", when="2024-02-01")
    obs["code"]["coding"][0]["system"] = "urn:oid:2.16.840.1.113883.6.1"
    assert facts(obs).total_ige.measurement.value == 88


def test_codings_naming_two_different_tests_are_refused():
    obs = lab("x", "19113-0", 88, unit="IU/mL", code="[IU]/mL", when="2024-02-01",
              extra_codings=[{"system": "http://loinc.org", "code": "29463-7"}])
    f = facts(obs)
    assert f.total_ige.status == "missing" and f.weight is None
    assert any("different tests" in p for p in problems(f))


@pytest.mark.parametrize("value,unit,code,kg", [
    (70, "kg", "kg", 70.0), (70500, "g", "g", 70.5), (154.3, "lb", "[lb_av]", 69.98839), (2469, "oz", "[oz_av]", 69.99),
])
def test_us_core_body_weight_units(value, unit, code, kg):
    f = facts(vital("w", "29463-7", value, unit, code))
    assert f.weight.value == pytest.approx(kg, abs=0.01)
    assert f.weight.unit == "kg" and f.weight.original_unit == unit


def test_newest_weight_is_chosen():
    f = facts(vital("w1", "29463-7", 70, "kg", "kg", when="2024-01-01"),
              vital("w2", "29463-7", 72, "kg", "kg", when="2025-05-01"),
              vital("w3", "3141-9", 71, "kg", "kg", when="2024-12-01"))
    assert f.weight.source.resource_id == "w2" and f.weight.when == datetime(2025, 5, 1)


# ---------------------------------------------------------------------------- LTE4, eGFR
def test_lte4_units():
    f = facts(lab("l1", "33343-5", 166, unit="pg/mg{creat}", code="pg/mg{creat}", when="2025-01-01"))
    assert f.lte4.value == 166 and f.lte4.unit == "pg/mg{creat}"
    f = facts(lab("l2", "33343-5", 18.8, unit="ng/mmol creatinine", when="2025-01-01"))
    assert f.lte4.value == pytest.approx(166.2, abs=0.1)


def test_lte4_without_creatinine_normalisation_not_read():
    f = facts(lab("l", "33344-3", 300, unit="pg/mL", code="pg/mL", when="2025-01-01"))
    assert f.lte4 is None


@pytest.mark.parametrize("loinc", ["98979-8", "33914-3", "88293-6", "88294-4", "62238-1", "48642-3", "77147-7"])
def test_every_egfr_code(loinc):
    f = facts(lab("g", loinc, 42, unit="mL/min/1.73m2", code="mL/min/{1.73_m2}", when="2025-01-01"))
    assert f.egfr.value == 42 and f.egfr.unit == "mL/min/{1.73_m2}"


def test_egfr_without_body_surface_normalisation_refused():
    f = facts(lab("g", "98979-8", 42, unit="mL/min", code="mL/min", when="2025-01-01"))
    assert f.egfr is None and any("mL/min" in p for p in problems(f))


def test_newest_egfr_and_lte4():
    f = facts(lab("g1", "98979-8", 80, unit="mL/min/1.73m2", when="2024-01-01"),
              lab("g2", "33914-3", 55, unit="mL/min/1.73m2", when="2025-02-01"))
    assert f.egfr.source.resource_id == "g2"


# -------------------------------------------------------------------------------- eosinophils
@pytest.mark.parametrize("value,unit,code,per_ul", [
    (300, "cells/uL", "/uL", 300.0), (300, "/mm3", "/mm3", 300.0), (0.3, "x10^3/uL", "10*3/uL", 300.0),
    (0.3, "x10^9/L", "10*9/L", 300.0), (0.45, "K/uL", None, 450.0),
])
def test_absolute_eosinophil_units(value, unit, code, per_ul):
    f = facts(lab("e", "711-2", value, unit=unit, code=code, when="2025-05-01"))
    assert f.eosinophils_latest.value == pytest.approx(per_ul)
    assert f.eosinophils_latest.unit == "/uL"


def test_percent_times_wbc_same_time():
    f = facts(lab("pct", "713-8", 4, unit="%", code="%", when="2025-05-01T08:00:00Z"),
              lab("wbc", "6690-2", 7.5, unit="10*3/uL", code="10*3/uL", when="2025-05-01T08:00:00Z"))
    m = f.eosinophils_latest
    assert m.value == pytest.approx(300.0)
    assert [s.resource_id for s in m.derived_from] == ["pct", "wbc"]
    assert m.original_unit == "%"


def test_percent_times_wbc_with_wbc_in_per_litre():
    f = facts(lab("pct", "26450-7", 5, unit="%", code="%", when="2025-05-01T08:00:00Z"),
              lab("wbc", "26464-8", 8.0, unit="10^9/L", code="10*9/L", when="2025-05-01T08:20:00Z"))
    assert f.eosinophils_latest.value == pytest.approx(400.0)


def test_percent_not_paired_with_wbc_from_another_draw():
    f = facts(lab("pct", "713-8", 4, unit="%", code="%", when="2025-05-01T08:00:00Z"),
              lab("wbc", "6690-2", 7.5, unit="10*3/uL", code="10*3/uL", when="2025-05-03T08:00:00Z"))
    assert f.eosinophils_latest is None
    assert any("without a WBC from the same draw" in p for p in problems(f))


def test_percent_paired_by_specimen_beyond_the_time_window():
    spec = {"reference": "Specimen/blood-1"}
    f = facts(lab("pct", "713-8", 2, unit="%", code="%", when="2025-05-01T08:00:00Z", specimen=spec),
              lab("wbc-other", "6690-2", 9.0, unit="10*3/uL", code="10*3/uL", when="2025-05-01T12:00:00Z"),
              lab("wbc", "6690-2", 10.0, unit="10*3/uL", code="10*3/uL", when="2025-05-01T11:00:00Z", specimen=spec))
    assert f.eosinophils_latest.value == pytest.approx(200.0)
    assert f.eosinophils_latest.derived_from[1].resource_id == "wbc"


def test_nearest_wbc_within_window_is_used():
    f = facts(lab("pct", "713-8", 10, unit="%", code="%", when="2025-05-01T08:00:00Z"),
              lab("w1", "6690-2", 5.0, unit="10*3/uL", code="10*3/uL", when="2025-05-01T08:50:00Z"),
              lab("w2", "6690-2", 6.0, unit="10*3/uL", code="10*3/uL", when="2025-05-01T08:05:00Z"))
    assert f.eosinophils_latest.value == pytest.approx(600.0)


def test_absolute_count_preferred_over_derived_for_same_draw():
    t = "2025-05-01T08:00:00Z"
    f = facts(lab("abs", "711-2", 0.35, unit="10*3/uL", code="10*3/uL", when=t),
              lab("pct", "713-8", 4, unit="%", code="%", when=t),
              lab("wbc", "6690-2", 7.5, unit="10*3/uL", code="10*3/uL", when=t))
    assert f.eosinophils_latest.source.resource_id == "abs"
    assert f.eosinophils_latest.value == pytest.approx(350.0)
    assert f.eosinophils_max_12m.source.resource_id == "abs"


def test_newest_and_12_month_highest_eosinophils():
    f = facts(lab("e-old", "711-2", 900, unit="/uL", code="/uL", when="2024-05-01"),  # > 12 months before EVAL
              lab("e-high", "711-2", 520, unit="/uL", code="/uL", when="2024-09-01"),
              lab("e-new", "711-2", 140, unit="/uL", code="/uL", when="2025-06-01"))
    assert f.eosinophils_latest.source.resource_id == "e-new"
    assert f.eosinophils_max_12m.source.resource_id == "e-high"


def test_eosinophil_percent_comparator_carries_to_count():
    t = "2025-05-01T08:00:00Z"
    f = facts(lab("pct", "713-8", 1, unit="%", code="%", when=t, comparator="<"),
              lab("wbc", "6690-2", 6.0, unit="10*3/uL", code="10*3/uL", when=t))
    assert (f.eosinophils_latest.value, f.eosinophils_latest.comparator) == (pytest.approx(60.0), "<")


# ---------------------------------------------------------------------------- blood pressure
def test_bp_panel_and_last_three():
    f = facts(bp_panel("bp1", 130, 85, when="2025-01-01T10:00:00Z"),
              bp_panel("bp2", 150, 95, when="2025-03-01T10:00:00Z"),
              bp_panel("bp3", 145, 92, when="2025-05-01T10:00:00Z"),
              bp_panel("bp4", 160, 100, when="2025-06-01T10:00:00Z"))
    assert f.bp_latest.source.resource_id == "bp4"
    assert [b.source.resource_id for b in f.bp_recent] == ["bp4", "bp3", "bp2"]
    assert f.bp_latest.systolic.value == 160 and f.bp_latest.diastolic.value == 100


def test_lone_systolic_and_diastolic_are_paired_by_time():
    t = "2025-06-01T10:00:00Z"
    s = lab("s", "8480-6", 182, unit="mmHg", code="mm[Hg]", when=t)
    d = lab("d", "8462-4", 111, unit="mmHg", code="mm[Hg]", when="2025-06-01T10:01:00Z")
    s_old = lab("s-old", "8480-6", 120, unit="mmHg", code="mm[Hg]", when="2025-01-01T10:00:00Z")
    f = facts(s, d, s_old)
    assert f.bp_latest.systolic.value == 182 and f.bp_latest.diastolic.value == 111
    assert f.bp_recent[1].systolic.value == 120 and f.bp_recent[1].diastolic is None


def test_bp_component_with_data_absent_reason():
    bp = bp_panel("bp", 140, None)
    bp["component"].append({"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                            "dataAbsentReason": {"coding": [{"code": "not-performed"}]}})
    f = facts(bp)
    assert f.bp_latest.systolic.value == 140 and f.bp_latest.diastolic is None


def test_bp_wrong_unit_refused():
    f = facts(bp_panel("bp", 18, 11, unit="kPa", code="kPa"))
    assert f.bp_latest is None
    assert any("kPa" in p for p in problems(f))


# ------------------------------------------------------------------------------- specific IgE
def test_specific_ige_with_allergen_group():
    f = facts(lab("s1", "6096-2", 3.2, unit="kUA/L", when="2024-10-01"),
              lab("s2", "6206-7", 0.1, unit="kU/L", code="k[IU]/L", comparator="<", when="2024-10-01"))
    by = {s.allergen: s for s in f.specific_ige}
    assert by["D. pteronyssinus"].allergen_group == "perennial-aeroallergen"
    assert by["D. pteronyssinus"].measurement.value == 3.2
    assert by["D. pteronyssinus"].measurement.unit == "k[IU]/L"
    assert by["peanut"].allergen_group == "food" and by["peanut"].measurement.comparator == "<"


# -------------------------------------------------------------------------------- provenance
def test_provenance_of_a_converted_value():
    f = facts(lab("ige-ng", "2462-0", 484, unit="ng/mL", code="ng/mL", when="2024-03-05T07:15:00Z",
                  display="IgE [Mass/volume] in Serum"))
    m = f.total_ige.measurement
    assert m.source.resource_type == "Observation" and m.source.resource_id == "ige-ng"
    assert m.source.code == "http://loinc.org|2462-0" and m.source.display == "IgE [Mass/volume] in Serum"
    assert m.when == datetime(2024, 3, 5, 7, 15)
    assert (m.original_value, m.original_unit, m.value, m.unit) == (484.0, "ng/mL", pytest.approx(200.0), "[IU]/mL")


def test_unrelated_observations_are_ignored_silently():
    f = facts(lab("chol", "2093-3", 190, unit="mg/dL", code="mg/dL", when="2025-01-01"))
    assert f.issues == ()


def test_quantity_with_non_ucum_system_uses_unit_text():
    obs = lab("w", "29463-7", 70, when="2025-01-01")
    obs["valueQuantity"] = quantity(70, "kg", "KGM", system="http://example.org/units")
    assert facts(obs).weight.value == 70
    assert UCUM  # keep import used


def test_percent_paired_through_a_diagnostic_report():
    pct = lab("pct", "713-8", 3, unit="%", code="%", when="2025-05-01T08:00:00Z")
    wbc = lab("wbc", "6690-2", 10.0, unit="10*3/uL", code="10*3/uL", when="2025-05-01T10:30:00Z")
    report = {"resourceType": "DiagnosticReport", "id": "cbc", "status": "final",
              "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
              "subject": {"reference": f"Patient/{PID}"},
              "result": [{"reference": "Observation/pct"}, {"reference": "Observation/wbc"}]}
    f = facts(pct, wbc, report)
    assert f.eosinophils_latest.value == pytest.approx(300.0)
    # without the report, 2.5 hours apart is not the same draw
    assert facts(pct, wbc).eosinophils_latest is None


def test_same_day_evening_result_west_of_utc_is_not_in_the_future():
    f = facts(lab("w", "29463-7", 70, unit="kg", code="kg", when="2025-07-01T21:00:00-05:00"))
    assert f.weight is not None and f.weight.value == 70


def test_ige_dated_only_to_the_month_is_not_used():
    f = facts(lab("ige", "19113-0", 100, unit="IU/mL", code="[IU]/mL", when="2024-03"))
    assert f.total_ige.status == "missing"
    assert any("dated only to the month" in p for p in problems(f))


@pytest.mark.parametrize("value", [1e300, 2000, -5])
def test_implausible_weight_is_a_data_issue_not_a_fact(value):
    """1e300 kg once reached the core and crashed dose rounding; impossible values are data errors."""
    w = vital("wt", "29463-7", value, "kg", "kg", when="2025-06-01T10:00:00Z")
    f = facts(w)
    assert f.weight is None
    assert any(i.reference == "Observation/wt" and "not a plausible" in i.problem for i in f.issues), problems(f)


def test_plausible_extremes_are_kept():
    f = facts(vital("wt", "29463-7", 280, "kg", "kg", when="2025-06-01T10:00:00Z"),
              lab("ige", "19113-0", 45000, unit="IU/mL", code="[IU]/mL", when="2024-02-01"))
    assert f.weight.value == 280 and f.total_ige.measurement.value == 45000
