"""fhir_client.parse_body (orjson where provably equal) against the stdlib parse it stands for:
`json.loads(raw.decode("utf-8-sig"))`, the same value (types included) or the same exception."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.fhir_client import parse_body


def _outcome(parse, raw: bytes):
    try:
        return ("ok", parse(raw))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return ("error", type(exc), str(exc))


def _stdlib(raw: bytes):
    return json.loads(raw.decode("utf-8-sig"))


def _same(a, b) -> bool:
    """Equal all the way down, types included (1 and 1.0 differ; -0.0 and 0.0 differ; key order
    counts); a loop, not recursion, so that deep documents can be compared."""
    todo = [(a, b)]
    while todo:
        a, b = todo.pop()
        if type(a) is not type(b):
            return False
        if isinstance(a, dict):
            if list(a) != list(b):
                return False
            todo.extend((a[k], b[k]) for k in a)
        elif isinstance(a, list):
            if len(a) != len(b):
                return False
            todo.extend(zip(a, b))
        elif isinstance(a, float):
            if not ((math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))):
                return False
        elif a != b:
            return False
    return True


def _check(raw: bytes) -> None:
    fast, slow = _outcome(parse_body, raw), _outcome(_stdlib, raw)
    if slow[0] == "ok":
        assert fast[0] == "ok" and _same(fast[1], slow[1]), raw[:200]
    else:
        assert fast == slow, raw[:200]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=2000, deadline=None)
@given(json_values, st.booleans(), st.booleans())
def test_parse_body_equals_the_stdlib_on_json(value, ascii_only, bom):
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    _check((b"\xef\xbb\xbf" if bom else b"") + raw)


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=40) | st.text(alphabet='{}[]",:0123456789.eE-+ \\nautrfls\ud800\x01', max_size=40)
       .map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_parse_body_equals_the_stdlib_on_any_bytes(raw):
    _check(raw)


NUMBERS = ["0", "-0", "-0.0", "1e2", "1E-400", "1e400", "-1e400", "123456789012345678", "1234567890123456789",
           "-9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616",
           "0.1", "2.2250738585072014e-308", "4.9e-324", "1.7976931348623157e308", "0.30000000000000004",
           "3.141592653589793238462643383279", "1" + "0" * 400, "1.5e+3", "-12.5E-3", "NaN", "-Infinity"]


@pytest.mark.parametrize("text", NUMBERS)
def test_numbers(text):
    _check(('{"resourceType": "Bundle", "total": ' + text + '}').encode())


@pytest.mark.parametrize("raw", [
    b'{"a": "\\ud800"}', b'\xef\xbb\xbf\xef\xbb\xbf{}', b'\xef\xbb\xbf{"a": 1}', b"", b"  ", b'{"a": 1, "a": 2, "b": 3}',
    b'{"a": "caf\xc3\xa9"}', b'{"a": "caf\xe9"}', b'{"a": "\x01"}', b"[1] x", b"[" * 499 + b"]" * 499,
    b"[" * 500 + b"]" * 500, b"[" * 990 + b"]" * 990, b"[" * 5000 + b"]" * 5000, b'{"v": 1}\x00',
])
def test_edge_bodies(raw):
    _check(raw)


def test_a_fhir_bundle_takes_the_fast_path(monkeypatch):
    import cds_service.fhir_client as fc

    calls = []
    monkeypatch.setattr(fc.json, "loads", lambda *a, **k: calls.append(1))
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": 2, "entry": [
        {"resource": {"resourceType": "Observation", "id": "o1", "valueQuantity": {"value": 412.5}}}]}
    assert parse_body(json.dumps(bundle).encode()) == bundle and not calls
