"""extract_draft_orders: medication, dose (mg, mg/kg, g->mg), interval, selection, odd drafts."""
from __future__ import annotations

import pytest

from fhir_mappings import extract_draft_orders
from tests.mappings.fhirdata import RXNORM, bundle


def draft(did, *, med=None, ref=None, contained=None, dose=None, timing=None, route=None, intent="order"):
    res = {"resourceType": "MedicationRequest", "id": did, "status": "draft", "intent": intent,
           "subject": {"reference": "Patient/pat-1"}}
    if med is not None:
        res["medicationCodeableConcept"] = med
    if ref is not None:
        res["medicationReference"] = {"reference": ref}
    if contained:
        res["contained"] = contained
    di = {}
    if dose is not None:
        di["doseAndRate"] = [{"doseQuantity": dose}]
    if timing is not None:
        di["timing"] = {"repeat": timing}
    if route is not None:
        di["route"] = route
    if di:
        res["dosageInstruction"] = [di]
    return res


OMA = {"coding": [{"system": RXNORM, "code": "302379", "display": "omalizumab"}], "text": "Xolair"}


def test_complete_omalizumab_draft():
    d = draft("d1", med=OMA, dose={"value": 300, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"},
              timing={"frequency": 1, "period": 4, "periodUnit": "wk"},
              route={"coding": [{"system": "http://snomed.info/sct", "code": "34206005",
                                 "display": "Subcutaneous route"}]})
    (o,) = extract_draft_orders(bundle(d, btype="collection"), ["MedicationRequest/d1"], hook="order-select")
    assert (o.reference, o.agent, o.drug_class, o.selected) == ("MedicationRequest/d1", "omalizumab", "anti-ige", True)
    assert (o.dose_value, o.dose_unit, o.interval_weeks, o.route, o.intent) == (300.0, "mg", 4.0, "subcutaneous", "order")
    assert o.text == "Xolair"


@pytest.mark.parametrize("timing,weeks", [
    ({"frequency": 1, "period": 2, "periodUnit": "wk"}, 2.0),
    ({"period": 14, "periodUnit": "d"}, 2.0),
    ({"frequency": 2, "period": 4, "periodUnit": "wk"}, 2.0),
    ({"frequency": 1, "period": 1, "periodUnit": "mo"}, 4.3482),
    ({"frequency": 1, "periodUnit": "wk"}, None),
    ({"frequency": 1, "period": 2, "periodUnit": "fortnight"}, None),
])
def test_interval_weeks(timing, weeks):
    (o,) = extract_draft_orders(bundle(draft("d", med=OMA, timing=timing)), [], hook="order-sign")
    assert o.interval_weeks == (pytest.approx(weeks) if weeks else None)


@pytest.mark.parametrize("dose,value,unit", [
    ({"value": 0.375, "unit": "g", "system": "http://unitsofmeasure.org", "code": "g"}, 375.0, "mg"),
    ({"value": 150, "unit": "mg"}, 150.0, "mg"),
    ({"value": 3, "unit": "mg/kg", "system": "http://unitsofmeasure.org", "code": "mg/kg"}, 3.0, "mg/kg"),
    ({"value": 1, "unit": "mL", "code": "mL"}, None, None),
    ({"unit": "mg"}, None, None),
])
def test_dose_units(dose, value, unit):
    (o,) = extract_draft_orders(bundle(draft("d", med=OMA, dose=dose)), None, hook="order-sign")
    assert (o.dose_value, o.dose_unit) == (value, unit)


@pytest.mark.parametrize("dose,timing", [
    ({"value": 1e308, "unit": "g", "code": "g"}, {"period": 4, "periodUnit": "wk"}),  # inf once in mg
    ({"value": 10 ** 400, "unit": "mg", "code": "mg"}, {"period": 4, "periodUnit": "wk"}),  # int beyond float
    ({"value": 10 ** 400, "unit": "mg/kg", "code": "mg/kg"}, {"period": 4, "periodUnit": "wk"}),
    ({"value": 300, "unit": "mg", "code": "mg"}, {"period": 1e308, "periodUnit": "a"}),  # inf weeks
    ({"value": 300, "unit": "mg", "code": "mg"}, {"period": 10 ** 400, "periodUnit": "wk"}),
])
def test_a_dose_or_interval_beyond_the_float_range_is_unreadable_not_a_crash(dose, timing):
    """Valid JSON can hold 1e308 g or a 400-digit integer: the draft is still read, with that dose or
    interval unreadable (None), so the order check warns instead of the draft going unchecked."""
    (o,) = extract_draft_orders(bundle(draft("d", med=OMA, dose=dose, timing=timing)), None, hook="order-sign")
    assert o.agent == "omalizumab"
    readable_dose = dose["value"] == 300
    assert (o.dose_value, o.dose_unit) == ((300.0, "mg") if readable_dose else (None, None))
    assert o.interval_weeks == (4.0 if timing["period"] == 4 else None)


def test_incomplete_draft_at_order_select():
    (o,) = extract_draft_orders(bundle(draft("d", med={"text": "omalizumab"})), ["MedicationRequest/other"],
                                hook="order-select")
    assert o.agent == "omalizumab" and not o.selected
    assert (o.dose_value, o.dose_unit, o.interval_weeks, o.route) == (None, None, None, None)


def test_order_sign_selects_every_draft_and_ignores_other_resources():
    b = bundle(draft("a", med=OMA), {"resourceType": "NutritionOrder", "id": "n", "status": "draft",
                                     "intent": "order", "patient": {"reference": "Patient/pat-1"}},
               draft("b", med={"text": "Neoral 100 mg"}), btype=None)
    out = extract_draft_orders(b, None, hook="order-sign")
    assert [(o.reference, o.agent, o.selected) for o in out] == [
        ("MedicationRequest/a", "omalizumab", True), ("MedicationRequest/b", "cyclosporine", True)]


def test_medication_reference_contained_bundle_and_resolver():
    contained = [{"resourceType": "Medication", "id": "m", "code": {"text": "Nucala 100 mg"}}]
    med = {"resourceType": "Medication", "id": "cinq", "code": {"text": "Cinqair 100 mg/10 mL"}}
    b = bundle(draft("a", ref="#m", contained=contained), draft("b", ref="Medication/cinq"), med,
               draft("c", ref="Medication/remote"))
    out = extract_draft_orders(b, ["MedicationRequest/a", "MedicationRequest/c"], hook="order-select",
                               resolve_reference=lambda r: {"resourceType": "Medication", "id": "remote",
                                                            "code": {"text": "Zyflo CR"}})
    assert [(o.agent, o.selected) for o in out] == [("mepolizumab", True), ("reslizumab", False),
                                                    ("zileuton", True)]


def test_selections_may_be_absolute_urls():
    out = extract_draft_orders(bundle(draft("a", med=OMA)), ["http://ehr.example/fhir/MedicationRequest/a"],
                               hook="order-select")
    assert out[0].selected


@pytest.mark.parametrize("garbage", [None, {}, [], "x", {"resourceType": "Bundle"}, {"entry": "nope"},
                                     {"entry": [None, 1, {"resource": "x"}]},
                                     {"entry": [{"resource": {"resourceType": "MedicationRequest", "id": 5,
                                                              "dosageInstruction": "bad"}}]}])
def test_garbage_never_raises(garbage):
    out = extract_draft_orders(garbage, ["x"], hook="order-select")
    assert isinstance(out, tuple)


def test_route_coded_only_by_snomed_code_is_read():
    """A route with only a SNOMED CT code (no text, no display) must still be recognised: an IV omalizumab draft
    read as 'no route' would miss the SC-only warning."""
    iv = draft("d1", med={"text": "omalizumab"}, dose=(300, "mg"),
               route={"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]})
    sc = draft("d2", med={"text": "omalizumab"}, dose=(300, "mg"),
               route={"coding": [{"system": "http://snomed.info/sct", "code": "34206005"}]})
    other_system = draft("d3", med={"text": "omalizumab"}, dose=(300, "mg"),
                         route={"coding": [{"system": "urn:local", "code": "47625008"}]})
    got = {o.reference: o.route for o in extract_draft_orders(bundle(iv, sc, other_system), None, hook="order-sign")}
    assert got["MedicationRequest/d1"] == "intravenous"
    assert got["MedicationRequest/d2"] == "subcutaneous"
    assert got["MedicationRequest/d3"] != "intravenous"  # a code means nothing outside its system
