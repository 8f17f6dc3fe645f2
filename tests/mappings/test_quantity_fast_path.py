"""extract._quantity_fast equals read_quantity whenever it answers (and answers for ordinary results).

The Observation loop reads a plain valid result without building a RawObservation or calling the
generic helpers; anything unusual goes to read_quantity. Here both run on varied and malformed
quantities: where the fast path gives a Measurement, read_quantity gives the equal one and no issue.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_mappings import units
from fhir_mappings.codesets import loinc_index
from fhir_mappings.extract import _quantity_fast
from fhir_mappings.observations import RawObservation, read_quantity

_LOINC = [lc for lc in loinc_index().values() if lc.kind != "bp"]
_UNIT_WORDS = ["[IU]/mL", "k[IU]/L", "IU/mL", "kU/L", "ng/mL", "%", "10*3/uL", "10*9/L", "/uL", "kg", "[lb_av]",
               "lb", "g", "mL/min/{1.73_m2}", "pg/mg{creat}", "mm[Hg]", "", "  ", "bogus", "KG", " kg "]
_SYSTEMS = [None, "http://unitsofmeasure.org", "http://unitsofmeasure.org/", "http://other.org", "", 3]
_values = st.one_of(st.integers(-10, 10**6), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.booleans(), st.none(), st.text(max_size=5), st.just(10**400))
_str_or_junk = st.one_of(st.sampled_from(_UNIT_WORDS), st.none(), st.integers(), st.text(max_size=6))
_quantity = st.fixed_dictionaries({}, optional={
    "value": _values,
    "comparator": st.sampled_from(["<", "<=", ">=", ">", "=", "", "ad"]),
    "unit": _str_or_junk, "code": _str_or_junk, "system": st.sampled_from(_SYSTEMS)})

def _both(res, lc, coding):
    kind = lc.kind
    rid = res.get("id") if isinstance(res.get("id"), str) and res.get("id").strip() else None
    fast = _quantity_fast(res, kind, lc, coding, rid, None, "final")
    issues = []
    raw = RawObservation(res, lc, coding or {}, None, "final", None, ())
    try:
        slow = read_quantity(res, kind, raw, issues)
    except (TypeError, OverflowError):
        slow, issues = "raised", ["raised"]
    return fast, slow, issues

@settings(max_examples=1500, deadline=None)
@given(lc=st.sampled_from(_LOINC), q=st.one_of(_quantity, st.none(), st.integers(), st.lists(st.none(), max_size=1)),
       rid=st.sampled_from(["o1", None, " ", "", 5]), display=st.sampled_from([None, "Shown", " ", 7]),
       absent=st.booleans())
def test_fast_equals_read_quantity(lc, q, rid, display, absent):
    res = {"resourceType": "Observation", "id": rid}
    if q is not None:
        res["valueQuantity"] = q
    if absent:
        res["dataAbsentReason"] = {"text": "unknown"}
    coding = {"code": lc.code, "display": display} if display is not None else {"code": lc.code}
    fast, slow, issues = _both(res, lc, coding)
    if fast is not None:
        assert fast == slow and not issues

@pytest.mark.parametrize("lc", _LOINC, ids=lambda lc: lc.code)
def test_fast_path_answers_for_ordinary_results(lc):
    accepted = units._table()["accepted"].get(lc.kind, [])
    for ucum in accepted:
        res = {"resourceType": "Observation", "id": "x",
               "valueQuantity": {"value": 1, "unit": ucum, "system": "http://unitsofmeasure.org", "code": ucum}}
        fast, slow, issues = _both(res, lc, {"code": lc.code})
        if slow is not None and not issues:
            assert fast == slow
            assert fast is not None

def test_overflowing_value_falls_back():
    lc = next(lc for lc in _LOINC if lc.kind == "weight")
    res = {"valueQuantity": {"value": 10**400, "code": "kg", "system": "http://unitsofmeasure.org"}}
    assert _quantity_fast(res, "weight", lc, {}, None, None, "final") is None


_PANEL = next(lc for lc in loinc_index().values() if lc.kind == "bp")
_COMPONENTS = [lc for lc in loinc_index().values() if lc.kind in ("systolic", "diastolic")]


@settings(max_examples=800, deadline=None)
@given(lc=st.sampled_from(_COMPONENTS), q=st.one_of(_quantity, st.none()),
       display=st.sampled_from([None, "Panel shown", " "]), rid=st.sampled_from(["bp1", None, ""]))
def test_fast_equals_read_quantity_for_a_panel_component(lc, q, display, rid):
    """_bp_panel's use: the component's LOINC code, the panel's coding display, the panel's id."""
    comp = {"code": {"coding": [{"system": "http://loinc.org", "code": lc.code}]}}
    if q is not None:
        comp["valueQuantity"] = q
    panel = {"resourceType": "Observation", "id": rid, "component": [comp]}
    coding = {"code": _PANEL.code, "display": display}
    raw = RawObservation(panel, _PANEL, coding, None, "preliminary", None, ())
    fast = _quantity_fast(comp, lc.kind, lc, coding, rid or None, None, "preliminary")
    issues: list = []
    try:
        slow = read_quantity(comp, lc.kind, raw, issues, loinc=lc)
    except (TypeError, OverflowError):
        slow, issues = "raised", ["raised"]
    if fast is not None:
        assert fast == slow and not issues
