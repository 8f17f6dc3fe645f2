"""The compiled used-element predicates (fast path) agree with the Struct interpreter (reference).

`used_elements.compile_valid(schema)` must equal `schema(value) is None` for every input, and
`used_element_problem` must return exactly the interpreter's text (`_problem_text`): checked on every
demo resource mutated at every element with valid, invalid and junk values, and on schema-shaped
random data (hypothesis) that mixes valid values, wrong types and extra choice elements.
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.perf.test_used_element_validation import _paths  # every path inside a resource
from fhir_mappings import used_elements as ue
from fhir_mappings.used_elements import META, SCHEMAS, ListOf, Struct, used_element_problem

DEMO = Path(__file__).resolve().parents[2] / "demo" / "patients"

VALUES = [None, 0, 1, -1, 1.5, math.nan, math.inf, True, False, "", " ", " x", "x ", "a  b", "x", "final",
          "not a date", "2026", "2026-02", "2026-02-29", "2024-02-29", "2026-02-30", "2026-13", "2026-01-01T10:00:00",
          "2026-01-01T10:00:00Z", "2026-01-01T10:00:00.123+05:30", "0001-01-01", "1.5", "-0", "01", "1e3", "+1",
          "true", "yes", "http://a b", "Patient/x", "x" * 70, [], {}, [1], [None], [{}], {"a": 1}, {"code": "x"},
          [{"system": 1}], {"value": "1"}, {"start": "2026-02-30"}, {"coding": "x"}, {"coding": [None, {"code": " "}]}]

CHOICE_KEYS = ["valueString", "valueQuantity", "valueX", "valuex", "value", "effectivePeriod", "effectiveTiming",
               "onsetAge", "onsetString", "abatementAge", "medicationReference", "medicationCodeableConcept",
               "doseQuantity", "doseRange", "itemReference", "itemCodeableConcept", "effectiveÄ", "x\0valueString",
               "valueQuantity\0valueString", "\0effective"]


def _demo_resources() -> list[dict]:
    out: dict[str, list[dict]] = {}
    for path in sorted(DEMO.glob("*.json")):
        doc = json.loads(path.read_text())
        entries = doc.get("entry", []) if doc.get("resourceType") == "Bundle" else [{"resource": doc}]
        for e in entries:
            r = e["resource"]
            if r.get("resourceType") in SCHEMAS:
                out.setdefault(r["resourceType"], []).append(r)
    # per type, the three resources with the most elements: every schema branch, without repeating it 50 times
    return [r for rs in out.values() for r in sorted(rs, key=lambda r: -len(json.dumps(r)))[:3]]


RESOURCES = _demo_resources()


def _assert_same(resource) -> None:
    rtype = resource.get("resourceType")
    schema = SCHEMAS[rtype]
    assert ue._valid_for(rtype)(resource) == (schema(resource) is None), resource
    meta = resource.get("meta")
    if meta is not None:
        assert ue._valid_for("Meta")(meta) == (META(meta) is None), meta
    assert used_element_problem(resource) == ue._problem_text(resource, schema), resource


def test_demo_resources_cover_every_schema():
    assert {r["resourceType"] for r in RESOURCES} >= set(SCHEMAS) - {"Medication"}


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: f"{r['resourceType']}/{r['id']}")
def test_every_element_mutated_gives_the_interpreters_answer(resource):
    _assert_same(resource)
    for path in list(_paths(resource)):
        for value in [*VALUES, "DELETE"]:
            mutated = copy.deepcopy(resource)
            cur = mutated
            for step in path[:-1]:
                cur = cur[step]
            if value == "DELETE":
                del cur[path[-1]]
            else:
                cur[path[-1]] = copy.deepcopy(value)
            _assert_same(mutated)
        for key in CHOICE_KEYS:  # a second (or null, or lower-case) element of a choice group next to `path`
            parent = copy.deepcopy(resource)
            cur = parent
            for step in path[:-1]:
                cur = cur[step]
            if isinstance(cur, dict):
                for extra in ("x", None, {"value": 1}):
                    cur[key] = extra
                    _assert_same(parent)


# -- schema-shaped random data ---------------------------------------------------------------------------
junk = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                    max_leaves=6)
primitive_like = st.sampled_from([v for v in VALUES if not isinstance(v, (dict, list))]) | junk


def _shaped(spec, depth: int = 0) -> st.SearchStrategy:
    """Values mostly shaped like `spec`, sometimes not (a wrong type, junk, None)."""
    if depth > 6:
        return junk
    if isinstance(spec, ListOf):
        return st.one_of(st.lists(st.one_of(st.none(), _shaped(spec.spec, depth + 1)), max_size=3), junk)
    if isinstance(spec, Struct):
        fields = {k: _shaped(v, depth + 1) for k, v in spec.fields.items()}
        extras = st.dictionaries(st.sampled_from(CHOICE_KEYS + ["resourceType", "extension"]),
                                 st.one_of(st.none(), primitive_like), max_size=2)
        base = st.fixed_dictionaries({}, optional=fields)
        return st.one_of(st.builds(lambda a, b: {**b, **a}, base, extras), base, junk)
    return primitive_like


@pytest.mark.parametrize("rtype", sorted(SCHEMAS))
def test_schema_shaped_random_data_gives_the_interpreters_answer(rtype):
    shaped = _shaped(SCHEMAS[rtype]).filter(lambda v: isinstance(v, dict)).map(
        lambda v: {**v, "resourceType": rtype})
    meta = st.one_of(st.none(), _shaped(META))

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(resource=shaped, meta=meta)
    def run(resource, meta):
        if meta is not None:
            resource = {**resource, "meta": meta}
        _assert_same(resource)

    run()


@pytest.mark.parametrize("rtype", sorted(SCHEMAS))
@pytest.mark.parametrize("extra", [{}, {"id": "a", "status": "final", "intent": "order", "code": {},
                                        "subject": {}, "patient": {}, "medicationReference": {}}])
def test_a_key_that_is_not_a_string_fails_like_the_interpreter(rtype, extra):
    resource = {"resourceType": rtype, **extra, 1: "x"}
    try:
        expected = ue._problem_text(resource, SCHEMAS[rtype])
    except AttributeError:  # the interpreter's choice rule calls str methods on every key
        with pytest.raises(AttributeError):
            used_element_problem(resource)
        return
    assert used_element_problem(resource) == expected


# -- temporal checks ---------------------------------------------------------------------------------
_TEMPORAL_SAMPLES = ["2026-09-15", "2026-09-15T08:20:00-05:00", "2026-09-15T08:20:00Z", "2026-09-15T24:00:00Z",
                     "0000-01-01", "0999-01-01", "1000-01-01", "9999-12-31T23:59:60+14:00", "2026-09-15T08:20:00+14:01",
                     "2026-09-15T08:20:00.5Z", "2026-02-30", "2026-9-15", "2026-09-15T08:20", "2026", "2026-09",
                     "２０２６-09-15", "2026-09-15\n", "2026-09-15T08:20:00-05:00 ", "2026-09-15T08:20:00−05:00"]


@pytest.mark.parametrize("value", _TEMPORAL_SAMPLES)
@pytest.mark.parametrize("check", [ue.DATE, ue.DATETIME, ue.INSTANT], ids=["date", "dateTime", "instant"])
def test_compiled_temporal_checks_equal_the_interpreter(check, value):
    spec = Struct("T", {"t": check})
    assert ue.compile_valid(spec)({"t": value}) == (spec({"t": value}) is None)
    assert ue.compile_valid(spec)({"t": value}) == (check(value) is None)


@settings(max_examples=600, deadline=None)
@given(value=st.one_of(st.from_regex(ue._DATETIME, fullmatch=True), st.text(alphabet="0123456789-T:Z+.", max_size=30)))
def test_compiled_temporal_checks_equal_the_interpreter_random(value):
    for check in (ue.DATE, ue.DATETIME, ue.INSTANT):
        spec = Struct("T", {"t": check})
        assert ue.compile_valid(spec)({"t": value}) == (check(value) is None), (check, value)


@settings(max_examples=400, deadline=None)
@given(value=st.one_of(st.sampled_from(["final", " final", "final ", "a  b", "a b", "", "\n", "19113-0", "[IU]/mL"]),
                       st.text(max_size=8)))
def test_compiled_code_check_gives_the_patterns_answer(value):
    spec = Struct("C", {"c": ue.CODE})
    assert ue.compile_valid(spec)({"c": value}) == (ue.CODE(value) is None)


def test_real_date_agrees_with_the_calendar_for_every_day_the_pattern_admits():
    """_real_date skips the calendar call for days 01-28: every pattern-valid day is checked here."""
    from datetime import date

    from fhir_mappings.used_elements import _real_date

    for year in ("0001", "1900", "2000", "2024", "2026", "9999"):
        for month in range(1, 13):
            for day in range(1, 32):
                text = f"{year}-{month:02d}-{day:02d}"
                try:
                    date.fromisoformat(text)
                    real = True
                except ValueError:
                    real = False
                assert _real_date(text) is real, text
                assert _real_date(text + "T10:00:00Z") is real, text


def test_printable_strings_hold_no_whitespace_but_the_ascii_space():
    """The compiled code check accepts a printable string without ' ' before trying the FHIR code
    pattern: sound only if no other whitespace character (what the pattern's \\s matches) is printable."""
    import re
    import sys

    space = re.compile(r"\s")
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        if space.match(c):
            assert c == " " or not c.isprintable(), hex(cp)


@pytest.mark.parametrize("code", ["final", "19113-0", "mg/kg", "a b", "a  b", " a", "a ", "a\tb", "a\u00a0b", "a\u2003b",
                                  "", "\u200b", "x\u0085y", "é", "a\nb"])
def test_compiled_code_check_matches_the_fhir_pattern(code):
    from fhir_mappings.used_elements import CODE, compile_valid

    spec = Struct("T", {"c": CODE})
    assert compile_valid(spec)({"c": code}) is (spec({"c": code}) is None), repr(code)


# -- the compiled predicates' shortcuts ----------------------------------------------------------------
@settings(max_examples=500, deadline=None)
@given(kind=st.sampled_from(["date", "datetime", "instant"]), data=st.data())
def test_the_usual_temporal_shapes_are_a_subset_of_the_fhir_patterns(kind, data):
    """A string the fast shape accepts skips the general pattern: the general pattern must accept it too."""
    general = {"date": ue._DATE, "datetime": ue._DATETIME, "instant": ue._INSTANT}[kind]
    value = data.draw(st.from_regex(ue._USUAL[kind], fullmatch=True))
    assert general.fullmatch(value), value


_CHOICE_LIKE = ["valueQuantity", "valueString", "value", "valuex", "valueX", "effectiveDateTime", "effectivePeriod",
                "effective", "effectiveinstant", "status", "code", "dose", "doseQuantity", "doseRange", "value_Q"]


@settings(max_examples=600, deadline=None)
@given(shapes=st.lists(st.dictionaries(st.sampled_from(_CHOICE_LIKE), st.sampled_from([None, 1, "x", {}]),
                                       max_size=6), min_size=1, max_size=6),
       choices=st.sampled_from([("effective", "value"), ("value",), ("dose",), ("medication",)]))
def test_the_choice_rule_by_shape_equals_the_key_loop(shapes, choices):
    """The same key tuples come back with other null values: the remembered groups must still decide right."""
    rule = ue._choice_rule(choices)
    for value in shapes + [{k: None for k in v} for v in shapes] + shapes:
        assert rule(value) == ue._choices_exact(value, choices), value


def test_resource_predicates_equal_the_schema_meta_and_medication_rules():
    for rtype in SCHEMAS:
        for resource in [r for r in RESOURCES if r["resourceType"] == rtype] + [{"resourceType": rtype}]:
            expected = ue._problem_text(resource, SCHEMAS[rtype]) is None
            assert ue._resource_valid(rtype)(resource) is expected, resource
            assert ue._resource_valid(rtype)({**resource, "meta": {"lastUpdated": "x"}}) is False


@pytest.mark.parametrize("value", [0, 1, -7, 10**400, 1.5, -0.0, float("inf"), float("-inf"), float("nan"), True, False,
                                   "1.0", "-0", "1e5", "01", "abc", "", [], {}])
def test_compiled_decimal_check_equals_the_interpreter(value):
    """The int / finite float test written inline in front of the decimal check."""
    spec = Struct("D", {"d": ue._decimal})
    assert ue.compile_valid(spec)({"d": value}) is (ue._decimal(value) is None), repr(value)


def test_a_known_shape_without_groups_skips_the_choice_rule_call():
    """The compiled form reads the rule's remembered shapes: the same answer before and after a shape is known."""
    spec = Struct("V", {"valueQuantity": ue.QUANTITY, "valueString": ue.STRING}, choices=("value",))
    fn = ue.compile_valid(spec)
    for value in ({"valueQuantity": {"value": 1}}, {"valueQuantity": {"value": 1}, "valueString": "x"},
                  {"valueQuantity": None, "valueString": "x"}, {"other": 1}):
        first, again = fn(value), fn(value)
        assert first == again == (spec(value) is None), value


# -- the Observation test for a result read by extract's usual path -----------------------------------------
from fhir_mappings.codesets import LOINC, loinc_index  # noqa: E402
from fhir_mappings.observations import COMPARATORS, USED_STATUSES  # noqa: E402

_V = st.sampled_from(VALUES)


def test_what_the_usual_reading_checks_is_valid_fhir():
    """OBSERVATION_READ leaves out the status, the coding's system and code, the subject reference and the
    value and comparator: whatever the usual path accepts there must be valid."""
    for code in loinc_index():
        assert ue.CODE(code) is None, code
    for text in (*COMPARATORS, *USED_STATUSES):
        assert ue.CODE(text) is None, text
    assert ue.URI(LOINC) is None and ue.STRING("Patient/p1") is None


_read_observation = st.fixed_dictionaries({
    "resourceType": st.just("Observation"),
    "status": st.sampled_from(sorted(USED_STATUSES)),
    "code": st.fixed_dictionaries(
        {"coding": st.tuples(st.fixed_dictionaries(
            {"system": st.just(LOINC), "code": st.sampled_from(sorted(loinc_index()))},
            optional={"display": _V, "version": _V, "userSelected": _V})).map(list)},
        optional={"text": _V}),
    "subject": st.fixed_dictionaries({"reference": st.just("Patient/p1")}, optional={"display": _V, "type": _V}),
    "valueQuantity": st.fixed_dictionaries(
        {"value": st.one_of(st.integers(-10**30, 10**30), st.floats(allow_nan=False, allow_infinity=False))},
        optional={"comparator": st.sampled_from([None, *sorted(COMPARATORS)]), "unit": _V, "system": _V,
                  "code": _V}),
}, optional={"id": _V, "meta": st.one_of(_V, st.fixed_dictionaries({}, optional={"lastUpdated": _V, "profile": _V})),
             "effectiveDateTime": _V, "effectivePeriod": _V, "effectiveInstant": _V, "issued": _V,
             "dataAbsentReason": _V, "specimen": _V, "component": _V, "valueString": _V, "category": _V})


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(_read_observation)
def test_the_read_observation_test_equals_the_whole_test(resource):
    whole = ue.resource_valid("Observation")(resource)
    assert ue.observation_read_valid()(resource) == whole == (used_element_problem(resource) is None), resource
