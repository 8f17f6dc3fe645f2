"""The request body parse: orjson's fast path must give exactly the stdlib's answer, or defer to it.

`validation.fast_loads` is only a speed-up: for every body, the value returned (or the 400 and its
text) must be what the stdlib parse with the transport rules gives.
"""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.errors import ApiError
from cds_service.validation import SLOW, fast_loads, _strict_loads


def _stdlib(raw: bytes):
    try:
        return ("ok", _strict_loads(raw.decode("utf-8-sig"), 64))
    except ApiError as exc:
        return ("error", exc.status)


def _both(raw: bytes):
    fast = fast_loads(raw)
    slow = _stdlib(raw)
    if fast is SLOW:
        return None, slow
    return ("ok", fast), slow


def _same(a, b) -> bool:
    """Equal values with equal types all the way down (1 and 1.0 differ; -0.0 and 0.0 differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_fast_parse_equals_stdlib_on_valid_json(value):
    raw = json.dumps(value).encode()
    fast, slow = _both(raw)
    assert slow[0] == "ok"
    if fast is not None:
        assert _same(fast[1], slow[1]), raw[:200]


NUMBER_TEXTS = ["0", "-0", "-0.0", "1e2", "1E-400", "1e400", "-1e400", "123456789012345678",
                "1234567890123456789", "-9223372036854775808", "18446744073709551616", "0.1",
                "2.2250738585072014e-308", "4.9e-324", "1.7976931348623157e308", "0.30000000000000004",
                "3.141592653589793238462643383279", "1" + "0" * 400, "1.5e+3", "-12.5E-3"]


@pytest.mark.parametrize("text", NUMBER_TEXTS)
def test_numbers_parse_as_the_stdlib_reads_them(text):
    raw = ('{"v": ' + text + '}').encode()
    fast, slow = _both(raw)
    if fast is not None:
        assert slow[0] == "ok" and _same(fast[1], slow[1]), text


@pytest.mark.parametrize("raw", [
    b'{"a": NaN}', b'{"a": Infinity}', b'[-Infinity]', b'{"a": 1,}', b'{"a": "\x01"}', b'{"a": "\\ud800"}',
    b'\xef\xbb\xbf{"a": 1}', b'{"a": 1} x', b'', b'{"a": "\\u0000"}', b'[' * 70 + b']' * 70,
    b'{"a": "caf\xc3\xa9"}', b'{"a": 1, "a": 2}', b'  {"a" : [ 1 , 2 ] }  ',
])
def test_edge_bodies_match_the_stdlib(raw):
    fast, slow = _both(raw)
    if fast is not None:
        assert slow[0] == "ok" and _same(fast[1], slow[1]), raw[:80]


def test_the_fast_path_is_taken_for_an_ordinary_hook_request():
    body = {"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"patientId": "p1", "userId": "Practitioner/1"},
            "prefetch": {"patient": {"resourceType": "Patient", "id": "p1", "birthDate": "1980-02-29"},
                         "obs": {"resourceType": "Observation", "valueQuantity": {"value": 412.5}}}}
    raw = json.dumps(body).encode()
    fast = fast_loads(raw)
    assert fast is not SLOW and fast == body


def test_long_digit_runs_and_refusals_defer_to_the_stdlib():
    assert fast_loads(b'{"v": 12345678901234567890123}') is SLOW  # orjson would read a float
    assert fast_loads(b'{"v": 1e999}') is SLOW
    assert fast_loads(b'{"v": "\\ud800"}') is SLOW  # the stdlib accepts a lone surrogate


# -- nesting depth on the raw bytes ---------------------------------------------------------------
from cds_service.validation import json_depth_exceeds, valid_json_depth_exceeds  # noqa: E402

tricky_text = st.text(alphabet='{}[]"\\\\/ab\u00e9\u2028\n', max_size=12)
nested = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(tricky_text, children, max_size=4),
    max_leaves=40,
)


@settings(max_examples=500, deadline=None)
@given(nested, st.integers(min_value=0, max_value=8), st.booleans())
def test_raw_depth_agrees_with_the_tree_walk(value, limit, ascii_only):
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert valid_json_depth_exceeds(raw, limit) == json_depth_exceeds(value, limit), raw[:200]


@pytest.mark.parametrize("raw, limit, expected", [
    (b'{"a": "{{{{[[[["}', 1, False),
    (b'{"a": "\\\\"}', 1, False),
    (b'{"a": "\\"{{{"}', 1, False),
    (b'{"a": "\\\\\\"[["}', 1, False),
    (b'[[[]]]', 3, False),
    (b'[[[]]]', 2, True),
    (b'[{}, [[{}]], []]', 3, True),
    (b'[{}, [[{}]], []]', 4, False),
    (b'"just a string [["', 0, False),
    (b'12', 0, False),
])
def test_raw_depth_cases(raw, limit, expected):
    assert valid_json_depth_exceeds(raw, limit) is expected
    assert json_depth_exceeds(json.loads(raw), limit) is expected


# -- encoding, through the HTTP layer ----------------------------------------------------------------
DISCOVERY_HOOK = "/cds-services/omalizumab-patient-view"


@pytest.mark.parametrize("raw", [
    b'{"hook": "patient-view", "x": "\xff"}',           # a byte that is never UTF-8
    b'{"hook": "patient-view", "x": "\xed\xa0\x80"}',   # an encoded surrogate (invalid UTF-8)
    b'\xef\xbb\xbf{"hook": "\xc3"}',                    # a truncated sequence after a BOM
])
def test_a_body_that_is_not_utf8_is_a_400_naming_the_encoding(client, raw):
    r = client.post(DISCOVERY_HOOK, data=raw, content_type="application/json")
    assert r.status_code == 400
    assert "request body is not UTF-8" in r.get_json()["details"]


def test_a_utf8_bom_is_accepted(client):
    """A BOM before valid JSON is read past (the request then fails only on what it lacks)."""
    r = client.post(DISCOVERY_HOOK, data=b'\xef\xbb\xbf{"hook": "patient-view"}', content_type="application/json")
    assert r.status_code == 400
    details = " ".join(r.get_json()["details"])
    assert "not UTF-8" not in details and "not valid JSON" not in details
    assert "hookInstance" in details


# -- the shared scan: the digit guard's soundness and the chunked depth bound ----------------------
from cds_service.validation import _LONG_DIGIT_RUN, _exact_depth_exceeds, _scan  # noqa: E402

digit_text = st.text(alphabet='0123456789ae-.: \\"\u00e9', max_size=60)


@settings(max_examples=400, deadline=None)
@given(digit_text)
def test_the_scan_keeps_every_run_of_19_digits(text):
    """Deleting letters, spaces and escapes may join digit runs (a needless stdlib parse) but never
    splits one: a 19-digit run in the body is always seen."""
    raw = json.dumps({"v": text, "n": [1, 2]}, ensure_ascii=False).encode()
    raw_has_run = any(len(run) >= 19 for run in "".join(c if c.isdigit() else " " for c in raw.decode()).split())
    if raw_has_run:
        assert _LONG_DIGIT_RUN in _scan(raw)


@pytest.mark.parametrize("raw", [b'{"v": 1234567890123456789}', b'[-1234567890123456789.5]',
                                 b'{"id": "1234567890123456789"}'])
def test_the_scan_sees_long_digit_runs(raw):
    assert _LONG_DIGIT_RUN in _scan(raw)


def test_escapes_and_punctuation_keep_digit_runs_apart():
    """An ordinary instant, escaped non-ASCII text and a uuid do not look like long integers."""
    raw = json.dumps({"t": "2023-04-05T10:20:30.123+02:00", "n": "\u4e2d\u6587\u4e2d\u6587\u4e2d\u6587",
                      "u": "123e4567-e89b-12d3-a456-426614174000"}).encode()
    assert _LONG_DIGIT_RUN not in _scan(raw)


def _deep(depth: int, leaf: object) -> object:
    value = leaf
    for i in range(depth):
        value = [value, "[x"] if i % 2 else {"k]": value}
    return value


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=80), min_size=1, max_size=6),
       st.integers(min_value=0, max_value=80), tricky_text)
def test_chunked_depth_bound_agrees_with_the_tree_walk_on_deep_documents(depths, limit, text):
    """Documents near and beyond a 64-bracket chunk (where the bound gives way to the exact count)."""
    value = [_deep(d, text) for d in depths]
    raw = json.dumps(value).encode()
    assert valid_json_depth_exceeds(raw, limit) == json_depth_exceeds(value, limit)


def test_exact_depth_count():
    assert _exact_depth_exceeds(b"{{}{{}}}", 2) is True
    assert _exact_depth_exceeds(b"{{}{{}}}", 3) is False
    assert _exact_depth_exceeds(b"", 0) is False


@pytest.mark.parametrize("depth, refused", [(64, False), (65, True), (200, True)])
def test_nesting_limit_through_the_http_layer(client, depth, refused):
    raw = b"[" * (depth - 1) + b"]" * (depth - 1)  # inside the body's object: `depth` levels in all
    body = json.dumps({"hook": "patient-view", "x": "!"}).encode()[:-1] + b', "deep": ' + raw + b"}"
    r = client.post(DISCOVERY_HOOK, data=body, content_type="application/json")
    assert r.status_code == 400
    assert any("nested deeper than 64" in d for d in r.get_json()["details"]) is refused


# -- the leaf bound in front of the string cut (validation._leaf_bound_within) ---------------------
from cds_service.validation import _NOT_MARKS, _leaf_bound_within, _strings_cut_depth_exceeds  # noqa: E402

bracket_text = st.text(alphabet='{}[]"\\ab0', max_size=8)
bracketed = st.recursive(
    st.none() | st.integers(min_value=-99, max_value=99) | bracket_text
    | st.sampled_from(["[IU]/mL", "IgE [Mass/volume] in Serum", "mm[Hg]", "]", "[", "{}", "[[x]]"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(bracket_text, children, max_size=4),
    max_leaves=40,
)


def _marks(value) -> bytes:
    return _scan(json.dumps(value).encode()).translate(None, _NOT_MARKS)


@settings(max_examples=600, deadline=None)
@given(bracketed, st.integers(min_value=0, max_value=9))
def test_leaf_bound_only_clears_documents_within_the_limit(value, limit):
    """The bound may defer (False), but when it clears a document, the tree walk agrees; and the
    general check it stands in front of gives the tree walk's answer either way."""
    marks = _marks(value)
    exceeds = json_depth_exceeds(value, limit)
    if _leaf_bound_within(marks, limit):
        assert not exceeds
    assert _strings_cut_depth_exceeds(marks, limit) == exceeds


@pytest.mark.parametrize("value, limit, cleared", [
    ({"unit": "[IU]/mL", "display": "IgE [Mass/volume] in Serum", "v": [1, 2]}, 2, True),
    ([[[]]], 3, True),            # the innermost leaf is cut: depth 2 after, within 3 - 1
    ([[[]]], 2, False),           # 2 is not within 2 - 1: deferred (the general check says True)
    ([], 0, False),
    ({"a": "]"}, 5, False),       # a lone bracket in a string: deferred
    ({"a": "{}{}"}, 5, True),     # both pairs are adjacent: cut
    ({"a": "[[x]]"}, 5, False),   # '{{}}' keeps a pair after one pass: deferred
])
def test_leaf_bound_cases(value, limit, cleared):
    assert _leaf_bound_within(_marks(value), limit) is cleared


def test_the_leaf_bound_clears_the_bench_request():
    """The demo patient's request (LOINC displays and UCUM units with brackets) takes the bound."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import workload

    body = workload.patient_view_request(workload.load_demo(str(workload.find_demo_patient())))
    assert _leaf_bound_within(_marks(body), 64)
