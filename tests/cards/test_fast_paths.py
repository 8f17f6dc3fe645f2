"""The card layer's fast paths give exactly the answers of the plain forms they replace.

Each fast path (iterative null/empty walk, raw-HTML scan, canonical-JSON encoder) is compared with its
reference on generated values, malformed ones included: a difference would mean a card accepted or
refused differently.
"""
from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cards import validation
from cards.validation import CardValidationError

WHITESPACE = [" ", "\t", "\n", "\u00a0", "\u2003", "\u3000", "\x1c", "\x0b"]


class Str(str):
    pass


class Dict(dict):
    pass


class List(list):
    pass


leaves = (st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True, allow_infinity=True)
          | st.text(alphabet=st.sampled_from(WHITESPACE + ["a", "<", "é"]), max_size=4)
          | st.text(max_size=6).map(Str))
json_like = st.recursive(
    leaves,
    lambda children: (st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
                      | st.lists(children, max_size=2).map(List) | st.lists(children, max_size=2).map(tuple)
                      | st.dictionaries(st.text(max_size=3), children, max_size=2).map(Dict)),
    max_leaves=15,
)


def _located(value) -> bool:
    try:
        validation._locate_null_or_empty(value, "v")
    except CardValidationError:
        return True
    return False


@settings(max_examples=600, deadline=None)
@given(json_like)
def test_null_or_empty_walk_matches_the_reference(value):
    expected = validation._has_null_or_empty_generic(value)
    assert validation._has_null_or_empty(value) is expected
    assert _located(value) is expected


@pytest.mark.parametrize("value", [
    None, "", " ", "\u00a0", "\u2003x\u2003", {}, [], {"a": []}, [{"a": None}], {"a": {"b": float("nan")}},
    [1, True, 0, False, 2.5, "x"], {"a": [{"b": "  "}]}, Str(""), Dict(), List(), Dict(a=List([Str("ok")])),
    (), ("x", None), math.inf, -0.0,
])
def test_null_or_empty_walk_on_edge_values(value):
    expected = validation._has_null_or_empty_generic(value)
    assert validation._has_null_or_empty(value) is expected
    assert _located(value) is expected


@settings(max_examples=800, deadline=None)
@given(st.text(alphabet=st.sampled_from(["<", ">", "\\", "a", "Z", "/", "!", "?", " ", "1", "\n", "<"]),
               max_size=12))
def test_raw_html_scan_matches_the_look_behind_pattern(text):
    assert validation._has_raw_html(text) is (validation._RAW_HTML.search(text) is not None)


@pytest.mark.parametrize("text", ["", "<", "a<b", "\\<b", "\\\\<b", "<<a", "x <!-- y", "\\<\\<a<?", "< a",
                                  "IgE \\>100-200 IU/mL", "1 <2", "</div>"])
def test_raw_html_scan_on_edge_texts(text):
    assert validation._has_raw_html(text) is (validation._RAW_HTML.search(text) is not None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_canonical_json_encoder_is_json_dumps(value):
    assert validation._CANONICAL_JSON(value) == json.dumps(value, sort_keys=True, separators=(",", ":"))


def test_resource_inside_a_card_is_still_refused_for_an_empty_value():
    """validate_card checks the whole card (resources included) for null/empty values before the
    suggestion resources are validated without a second walk."""
    from tests.cards.factories import decision, rxnorm_verified
    from cards import build_cards

    [card] = build_cards([decision("omalizumab-dose")], hook="patient-view", patient_id="p1",
                         rxnorm_lookup=rxnorm_verified)
    card["suggestions"][0]["actions"][0]["resource"]["dosageInstruction"][0]["text"] = " "
    with pytest.raises(CardValidationError, match=re.escape("resource.dosageInstruction[0].text")):
        validation.validate_card(card)
