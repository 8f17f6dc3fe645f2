"""Band edges exactly as the brief says: first band closed below, later bands lower < x <= upper,
weight rounded to 0.1 kg (half up) first, comparator values placed only when the comparator settles it."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinical_core.dosing import band_index, lookup, position, round_weight
from tests.core.builders import meas


def us(ige, kg, *, ige_cmp=None, kg_cmp=None):
    w = meas("weight", kg, comparator=kg_cmp)
    return lookup("us-asthma-12plus", meas("total-ige", ige, comparator=ige_cmp), w)


@pytest.mark.parametrize("ige,band,dose", [
    (30, "≥30-100 IU/mL", (150, 4)),      # first band includes its lower limit
    (100, "≥30-100 IU/mL", (150, 4)),     # on the edge -> lower band
    (100.01, ">100-200 IU/mL", (300, 4)),
    (200, ">100-200 IU/mL", (300, 4)),
    (700, ">600-700 IU/mL", (375, 2)),    # table maximum is inside
])
def test_ige_edges(ige, band, dose):
    lk = us(ige, 50)
    assert lk.outcome == "dose" and lk.ige_band == band and (lk.dose_mg, lk.interval_weeks) == dose


@pytest.mark.parametrize("ige,outcome,words", [
    (29.99, "below-min", "below the table's lower limit of 30 IU/mL"),
    (700.01, "above-max", "above the table's upper limit of 700 IU/mL"),
])
def test_ige_outside(ige, outcome, words):
    lk = us(ige, 50)
    assert lk.outcome == outcome and lk.dose_mg is None and words in lk.reason
    assert "insufficient data to recommend a dose" in lk.reason.lower()


@pytest.mark.parametrize("kg,band,dose", [
    (30, "30-60 kg", (300, 4)),
    (29.95, "30-60 kg", (300, 4)),        # rounds half up to 30.0
    (60, "30-60 kg", (300, 4)),
    (60.04, "30-60 kg", (300, 4)),        # rounds to 60.0 -> lower band
    (60.05, ">60-70 kg", (225, 2)),       # rounds to 60.1 -> next band
    (150, ">90-150 kg", (300, 2)),
    (150.04, ">90-150 kg", (300, 2)),
])
def test_weight_edges_and_rounding(kg, band, dose):
    lk = us(250, kg)
    assert lk.outcome == "dose", lk.reason
    assert lk.weight_band == band and (lk.dose_mg, lk.interval_weeks) == dose


@pytest.mark.parametrize("kg,outcome,limit", [(150.1, "above-max", "150 kg"), (150.05, "above-max", "150 kg"),
                                              (29.94, "below-min", "30 kg")])
def test_weight_outside(kg, outcome, limit):
    lk = us(250, kg)
    assert lk.outcome == outcome and limit in lk.reason and lk.dose_mg is None


def test_round_weight_is_half_up_on_the_decimal_value():
    assert round_weight(60.05) == 60.1
    assert round_weight(60.04) == 60.0
    assert round_weight(72.25) == 72.3


@pytest.mark.parametrize("value,cmp,expected", [
    (700, ">", "above"), (1500, ">", "above"), (2, "<", "below"), (30, "<", "below"),
    (29, "<=", "below"), (30, "<=", "indeterminate"), (700, ">=", "indeterminate"), (200, ">", "indeterminate"),
    (500, "<", "indeterminate"),
])
def test_comparator_positions(value, cmp, expected):
    assert position(value, cmp, 30, 700) == expected


def test_comparator_values_are_out_of_table_in_their_direction():
    assert us(700, 60, ige_cmp=">").outcome == "above-max"
    assert us(1500, 60, ige_cmp=">").outcome == "above-max"
    low = us(2, 60, ige_cmp="<")
    assert low.outcome == "below-min" and "<2 IU/mL" in low.reason
    open_ = us(200, 60, ige_cmp=">")
    assert open_.outcome == "indeterminate" and open_.missing and "quantitative" in open_.missing[0]


def test_band_index_semantics():
    edges = (30.0, 100.0, 200.0)
    assert band_index(edges, 30) == 0 and band_index(edges, 100) == 0 and band_index(edges, 100.0001) == 1
    assert band_index(edges, 29.999) is None and band_index(edges, 200.0001) is None


def _round_weight_decimal(kg):
    """round_weight before its one-decimal shortcut: always the Decimal round trip."""
    from decimal import ROUND_HALF_UP, Decimal
    return float(Decimal(str(kg)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e20, max_value=1e20)
       | st.integers(-10_000, 10_000).map(lambda i: i / 10) | st.integers(0, 3_000_000).map(lambda i: i / 100)
       | st.integers(0, 400))
def test_round_weight_equals_the_decimal_form(kg):
    got, want = round_weight(kg), _round_weight_decimal(kg)
    assert type(got) is type(want) and repr(got) == repr(want)


@pytest.mark.parametrize("kg", [72.4, 80.0, -0.0, 0.0, 60.05, 60.04, 72.25, 1e16, 1.5e-05, 123456789012345.6, 75])
def test_round_weight_edge_values(kg):
    assert repr(round_weight(kg)) == repr(_round_weight_decimal(kg))
