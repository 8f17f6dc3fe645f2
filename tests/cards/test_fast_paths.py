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
def test_canonical_json_reads_back_as_the_stdlib_canonical_json(value):
    """The cache key of the model verdict reads back as the resource, key order included (NaN and
    Infinity too)."""
    stdlib = json.dumps(value, separators=(",", ":"))
    key = validation._canonical_json(value)
    assert json.dumps(json.loads(key), separators=(",", ":")) == stdlib
    assert validation._canonical_json(json.loads(stdlib)) == key  # the same resource, the same key


def test_canonical_json_keeps_the_key_order():
    """Two orders of the same keys are two cache keys, each reading back in its own order (the model
    validates exactly what the card carries)."""
    a, b = validation._canonical_json({"x": 1, "y": [2]}), validation._canonical_json({"y": [2], "x": 1})
    assert (a, b) == ('{"x":1,"y":[2]}', '{"y":[2],"x":1}')
    assert list(json.loads(b)) == ["y", "x"]


@pytest.mark.parametrize("value", [{"a": float("nan")}, {"a": float("inf")}, [-float("inf")], {"b": 2**70},
                                   {"a": None}, {1: "x"}])
def test_canonical_json_falls_back_to_the_stdlib_where_orjson_differs(value):
    assert validation._canonical_json(value) == json.dumps(value, separators=(",", ":"))


# _clean_json: the null/empty rule proven from the JSON the model cache needs anyway

import sys  # noqa: E402
from datetime import date, datetime  # noqa: E402

from hypothesis import HealthCheck  # noqa: E402

class Float(float):
    pass


class Int(int):
    pass


ALL_WHITESPACE = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
clean_leaves = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats()
                | st.lists(st.sampled_from(ALL_WHITESPACE + ["a", '"', "\\", "{}", "[]", "null", "é", "/"]),
                           max_size=4).map("".join)
                | st.text(max_size=6) | st.text(max_size=3).map(Str) | st.floats().map(Float) | st.integers(0, 3).map(Int)
                | st.sampled_from([date(2026, 1, 1), datetime(2026, 1, 1, 8), math.nan, -math.inf, "", " "]))
clean_trees = st.recursive(
    clean_leaves,
    lambda children: (st.lists(children, max_size=3)
                      | st.dictionaries(st.text(alphabet=st.sampled_from([" ", "a", '"', "\u00a0"]), max_size=3),
                                        children, max_size=3)
                      | st.lists(children, max_size=2).map(List) | st.lists(children, max_size=2).map(tuple)
                      | st.dictionaries(st.text(max_size=3), children, max_size=2).map(Dict)
                      | st.dictionaries(st.integers(0, 2), children, max_size=2)),
    max_leaves=15,
)


@settings(max_examples=1500, deadline=None)
@given(clean_trees)
def test_a_clean_plain_json_proves_every_tree_with_that_json(value):
    """_CLEAN_PLAIN_JSON rests on this: when the plain tree with some JSON passes the walk, every tree
    with that JSON (tuples, enums, ... where the plain one has lists and texts) passes it too; and
    _plain_and_clean only says True for a plain tree the walk passes."""
    assert not validation._plain_and_clean(value) or validation._has_null_or_empty_generic(value) is False
    key = validation._plain_json(value)
    if key is None:
        return
    plain = json.loads(key)  # the plain tree with this JSON
    if validation._plain_and_clean(plain):
        assert validation._has_null_or_empty_generic(value) is False
        assert validation._has_null_or_empty(value) is False
    if "null" not in key:
        assert key == validation._canonical_json(value)  # the model cache's key, written once


@pytest.mark.parametrize("value", [
    {"a": "b", "c": [1, 2.5, True]}, {"a": "x y"}, {"a": "é"}, {"a": " b"}, {"a": "b "}, {"a": ""}, {"a": " "},
    {"a": "\u00a0"}, {"a": "\u3000"}, {"a": "\x1c"}, {"a": "\x0b"}, {"a": "\t"}, {"a": "\n"}, {"a": "\x85"},
    {"a": None}, {"a": {}}, {"a": []}, {"a": math.nan}, {"a": math.inf}, {"a": Str(" ")}, {"a": Float("nan")},
    {"a": Dict()}, {"a": List()}, {"a": (None,)}, {"a": ()}, {"a": date(2026, 1, 1)}, {"a": 2**70}, {1: "x"},
    {"": "x"}, {" ": "x"}, {"a": 'say "no"'}, {"a": "null"}, {"a": "{}"}, {"a": Int(1)}, {"a": [[]]},
    {"resourceType": "MedicationRequest", "status": "draft", "subject": {"reference": "Patient/p1"}},
])
def test_plain_and_clean_on_edge_values(value):
    walk = validation._has_null_or_empty_generic(value)
    if validation._plain_and_clean(value):
        assert not walk
    if walk:
        assert not validation._plain_and_clean(value)
    if value in ({"a": "b", "c": [1, 2.5, True]}, {"a": "x y"}, {"a": "é"}, {"a": "b "}, {"a": "null"}, {"a": math.inf}):
        assert validation._plain_and_clean(value)  # plain trees passing the rule are proven


def test_the_builders_resources_are_remembered_clean(monkeypatch):
    """It saves the walk only if the usual resources are plain: the builder's corrected draft is, and
    the second check of the same JSON takes no walk."""
    from cards import suggestions
    from tests.cards.factories import omalizumab_draft, table_dose
    monkeypatch.setattr(validation, "_CLEAN_PLAIN_JSON", set())
    resource = suggestions.corrected_draft(omalizumab_draft(), table_dose())
    validation.validate_fhir_resource(resource)
    assert validation._CLEAN_PLAIN_JSON == {validation._canonical_json(resource)}
    walks = []
    monkeypatch.setattr(validation, "_no_null_or_empty", lambda *a: walks.append(a))
    validation.validate_fhir_resource(suggestions.corrected_draft(omalizumab_draft(), table_dose()))
    assert walks == []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(clean_trees, st.sampled_from(["status", "subject", "note", "dosageInstruction", "extra"]))
def test_validate_fhir_resource_answers_as_with_the_walk(monkeypatch, value, key):
    """The whole check, with the remembered JSON (filled by an earlier resource, and by this one) and with
    the walk always, raises the same error (or none)."""
    from tests.cards.factories import omalizumab_draft
    monkeypatch.setattr(validation, "_CLEAN_PLAIN_JSON", set())

    def outcome(resource):
        try:
            validation.validate_fhir_resource(resource)
            return None
        except Exception as exc:  # noqa: BLE001 - the exact error is what is compared
            return type(exc), str(exc)

    earlier, resource = omalizumab_draft(), omalizumab_draft()
    earlier[key] = json.loads(validation._plain_json(value) or "null")  # the plain tree of the same JSON
    resource[key] = value
    answers = [outcome(earlier), outcome(resource), outcome(resource)]
    with monkeypatch.context() as patched:
        patched.setattr(validation, "_plain_json", lambda resource: None)  # the walk, always
        assert [outcome(earlier), outcome(resource), outcome(resource)] == answers


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


# ---------------------------------------------------------------------------------------------------
# build_cards fast paths (key checks, detail text) against the
# reference forms kept in tests/cards/reference_impl.py

import contextlib  # noqa: E402
import copy  # noqa: E402
import uuid as uuidlib  # noqa: E402

import cards  # noqa: E402
import clinical_core  # noqa: E402
from cards import builder, suggestions  # noqa: E402
from tests.cards import reference_impl as ref  # noqa: E402
from tests.core.demo_inputs import HOOKS, demo_inputs, demo_slugs  # noqa: E402


@contextlib.contextmanager
def _reference_forms():
    """The card layer with every fast path swapped for its reference form."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(builder, "detail_for", ref.detail_for)
        mp.setattr(validation, "_only_keys", ref.only_keys)
        mp.setattr(suggestions, "not_codable", ref.not_codable)
        mp.setattr(suggestions, "coded_regimen", ref.coded_regimen)
        yield


def _without_uuids(value, seen=None):
    """The same JSON with each uuid replaced by its order of first appearance (uuids are random)."""
    seen = {} if seen is None else seen
    if isinstance(value, dict):
        return {k: (seen.setdefault(v, f"uuid-{len(seen)}") if k == "uuid" else _without_uuids(v, seen))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_without_uuids(v, seen) for v in value]
    return value


def _outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - the kind and text of a failure must match too
        return ("raised", type(exc).__name__, str(exc))


def _decisions(slug, hook, region):
    facts, drafts, by_ref, patient_id = demo_inputs(slug, hook)
    assessment = clinical_core.assess(facts, region=region)
    decisions = assessment.decisions
    if hook != "patient-view":
        decisions = clinical_core.check_orders(facts, drafts, hook=hook, assessment=assessment, region=region)
    return list(decisions), by_ref, patient_id


@pytest.mark.parametrize("slug", demo_slugs())
@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("region", ["US", "EU"])
def test_build_cards_equals_the_reference_forms_on_every_demo_patient(slug, hook, region):
    decisions, by_ref, patient_id = _decisions(slug, hook, region)

    def build():
        return _without_uuids(cards.build_cards(decisions, hook=hook, patient_id=patient_id, drafts=by_ref))
    fast = _outcome(build)
    with _reference_forms():
        slow = _outcome(build)
    assert fast == slow
    # a detail text per decision, also for decisions no card shows first
    for d in decisions:
        for notes in ((), ("a note | with <b>", "x")):
            assert cards.text.detail_for(d, notes) == ref.detail_for(d, notes)


def _mutations(card):
    """(path, new value) pairs: every field of the card set to awkward values, one at a time."""
    def paths(value, prefix=()):
        yield prefix
        if isinstance(value, dict):
            for k, v in value.items():
                yield from paths(v, prefix + (k,))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                yield from paths(v, prefix + (i,))
    awkward = [None, "", " ", 0, 1.5, float("inf"), float("nan"), True, [], {}, "x", Str("Str"), 2**70,
               {"a": "b"}, ["y"], "\ud800", "é<b>", "ABCDEF01-2345-6789-ABCD-EF0123456789",
               "{12345678-1234-5678-1234-567812345678}", "12345678123456781234567812345678",
               uuidlib.UUID(int=7), b"bytes", {1: "int key"}, ("tuple",)]
    for path in paths(card):
        if not path:
            continue
        for value in awkward:
            yield path, value
        yield path, "<delete>"
        yield path + ("extra",), "added"


def _apply(card, path, value):
    out = copy.deepcopy(card)
    target = out
    for step in path[:-1]:
        if isinstance(target, dict) and step in target or isinstance(target, list) and isinstance(step, int):
            target = target[step]
        else:
            return None
    last = path[-1]
    if not isinstance(target, (dict, list)) or (isinstance(target, list) and not isinstance(last, int)):
        return None
    if value == "<delete>":
        del target[last]
    else:
        target[last] = value
    return out


@pytest.mark.parametrize("slug", demo_slugs()[:4])
def test_validate_card_verdicts_equal_the_reference_forms_on_mutated_cards(slug):
    for hook in ("patient-view", "order-sign"):
        decisions, by_ref, patient_id = _decisions(slug, hook, "US")
        built = cards.build_cards(decisions, hook=hook, patient_id=patient_id, drafts=by_ref)
        for card in built:
            for path, value in _mutations(card):
                mutated = _apply(card, path, value)
                if mutated is None:
                    continue
                fast = _outcome(lambda: validation.validate_card(copy.deepcopy(mutated)))
                with _reference_forms():
                    slow = _outcome(lambda: validation.validate_card(copy.deepcopy(mutated)))
                assert fast == slow, (path, value)


def test_new_uuid_is_a_version_4_uuid_text():
    seen = set()
    for _ in range(2000):
        text = suggestions.new_uuid()
        parsed = uuidlib.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuidlib.RFC_4122
        seen.add(text)
    assert len(seen) == 2000


def test_new_uuid_pool_reads_once_per_256_ids(monkeypatch):
    reads = []
    real = suggestions.os.urandom
    monkeypatch.setattr(suggestions.os, "urandom", lambda n: reads.append(n) or real(n))
    suggestions._uuid_pool.clear()
    ids = [suggestions.new_uuid() for _ in range(600)]
    assert reads == [4096, 4096, 4096] and len(set(ids)) == 600


def test_new_uuid_threads_never_share_an_id():
    import threading

    suggestions._uuid_pool.clear()
    out: list[list[str]] = [[] for _ in range(8)]

    def take(bucket: list[str]) -> None:
        for _ in range(1500):
            bucket.append(suggestions.new_uuid())

    threads = [threading.Thread(target=take, args=(b,)) for b in out]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [u for b in out for u in b]
    assert len(flat) == 12000 and len(set(flat)) == 12000


def test_forked_child_does_not_reuse_the_parents_pooled_ids():
    import os

    suggestions._uuid_pool.clear()
    suggestions.new_uuid()  # the pool now holds 255 ids the parent will hand out
    pending = list(suggestions._uuid_pool)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its first id and exit without running pytest's teardown
        os.close(read_fd)
        os.write(write_fd, suggestions.new_uuid().encode())
        os._exit(0)
    os.close(write_fd)
    child_id = os.read(read_fd, 100).decode()
    os.close(read_fd)
    os.waitpid(pid, 0)
    assert uuidlib.UUID(child_id).version == 4
    assert child_id not in pending and pending == list(suggestions._uuid_pool)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["label", "url", "x", "topic", "zz", "icon"]), st.just(1), max_size=4))
def test_only_keys_equals_the_reference(obj):
    allowed = validation.SOURCE_KEYS
    assert _outcome(lambda: validation._only_keys(obj, allowed, "p")) == \
        _outcome(lambda: ref.only_keys(obj, allowed, "p"))


# ---------------------------------------------------------------------------------------------------
# second round: the detail and the option codes (looked up once per option) against the reference

from cards import text as card_text  # noqa: E402
from clinical_core.decisions import Citation, Evidence, TherapyOption  # noqa: E402
from tests.cards.factories import decision as make_decision, rxnorm_all, rxnorm_verified, table_dose  # noqa: E402

AWKWARD_CHARS = WHITESPACE + ["a", "B", "1", "é", "\x00", "\u2400", "-", ":", ".", "(", ")", "/"] + list("\\`*_[]<>|~#")
awkward_text = st.text(alphabet=st.sampled_from(AWKWARD_CHARS), max_size=8)


class Text(str):
    def __str__(self):
        return "converted <" + self


evidence_rows = st.builds(Evidence, awkward_text, awkward_text,
                          st.none() | st.dates(), st.none() | awkward_text, st.none() | awkward_text)
options = st.builds(TherapyOption, st.sampled_from(["omalizumab", "mepolizumab", "montelukast"]), awkward_text,
                    note=awkward_text)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["omalizumab-dose", "anti-il5-recommended", "cyclosporine-unsafe", "data-needed",
                        "omalizumab-not-preferred"]),
       awkward_text, awkward_text, st.lists(evidence_rows, max_size=3), st.none() | awkward_text,
       st.lists(awkward_text, max_size=2), st.lists(awkward_text, max_size=2), st.lists(options, max_size=2),
       st.lists(awkward_text, max_size=2), st.none() | awkward_text, st.booleans(),
       st.sampled_from(["https://x.org/a", "https://x.org/a b(c)", "https://x.org/\x00"]))
def test_detail_equals_the_reference_on_generated_decisions(topic, headline, rationale, evidence, rule, missing,
                                                            cautions, alternatives, notes, order, with_dose, url):
    d = make_decision(topic, headline=headline, rationale=rationale, evidence=tuple(evidence), rule=rule,
                      missing=tuple(missing), cautions=tuple(cautions), alternatives=tuple(alternatives),
                      order_reference=order, dose=table_dose(ige=rule or None) if with_dose else None,
                      covers=("allergic-asthma", "csu-refractory"), citation=Citation(headline or "x", url))
    for n in (notes, tuple(notes), ()):
        assert _outcome(lambda: card_text.detail_for(d, n)) == _outcome(lambda: ref.detail_for(d, n))


def test_detail_of_non_text_values_and_generators_equals_the_reference():
    d = make_decision("omalizumab-dose", headline=Text("a|b"), rule=7,
                      evidence=(Evidence(Text("x"), "1 <2"), Evidence("y", 3.5, reference=Text("Obs/1"))))
    for items in ([], ["n"], ["g1", "g2"]):
        assert card_text.detail_for(d, items) == ref.detail_for(d, items)
        # a generator of notes (each form gets its own, consumed once)
        assert card_text.detail_for(d, iter(items)) == ref.detail_for(d, iter(items))
    plain = make_decision("omalizumab-dose", missing=iter(["m1"]))
    again = make_decision("omalizumab-dose", missing=iter(["m1"]))
    assert card_text.detail_for(plain) == ref.detail_for(again)


@settings(max_examples=400, deadline=None)
@given(st.builds(TherapyOption, st.sampled_from(["omalizumab", "mepolizumab", "montelukast", "unknown"]),
                 st.text(max_size=5), st.none() | st.sampled_from([0, 1.5, 300]),
                 st.none() | st.sampled_from(["mg", "mg/kg", "xx"]), st.none() | st.sampled_from([1, 2]),
                 st.none() | st.sampled_from([1, 4.0, 2.5]), st.none() | st.sampled_from(["d", "wk", "zz"]),
                 st.none() | st.sampled_from(["subcutaneous", "oral", " Oral ", "nasal"]),
                 verified=st.booleans()),
       st.sampled_from([rxnorm_verified, rxnorm_all, lambda agent: None]))
def test_codes_looked_up_once_equal_the_reference(option, rx):
    assert suggestions.not_codable(option, rx) == ref.not_codable(option, rx)
    assert suggestions.coded_regimen(option, rx) == ref.coded_regimen(option, rx)


# ---------------------------------------------------------------------------------------------------
# third round: the detail's texts escaped in one pass, dates formatted once per day

import sys  # noqa: E402
from datetime import date, datetime  # noqa: E402

batch_text = st.lists(st.sampled_from(AWKWARD_CHARS + ["^", "^^", " ^^ ", "{", "}", "{}", " "]), max_size=8).map("".join)


@settings(max_examples=800, deadline=None)
@given(st.lists(batch_text | st.integers() | st.builds(Text, batch_text) | st.builds(Str, batch_text), max_size=8))
def test_md_escape_all_equals_md_escape_text_by_text(texts):
    assert card_text.md_escape_all(texts) == [card_text.md_escape(t) for t in texts]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.lists(batch_text | st.sampled_from(["IgE >100-200 IU/mL", "Observation/x", ""]) | st.integers()
                         | st.builds(Text, batch_text) | st.builds(Str, batch_text), max_size=6), min_size=1, max_size=4))
def test_md_escape_all_remembers_each_escape_exactly(batches):
    """The memo of escaped texts: every call, first (misses) or again (hits), with texts seen before and
    equal str subclasses (never looked up), equals md_escape text by text; only exact str is remembered."""
    for texts in batches + batches:
        assert card_text.md_escape_all(texts) == [card_text.md_escape(t) for t in texts]
    assert all(type(k) is str and v == card_text.md_escape(k) for k, v in card_text._ESCAPED.items())


def test_md_escape_all_keeps_escaping_when_its_memo_is_full(monkeypatch):
    monkeypatch.setattr(card_text, "_ESCAPED", {})
    monkeypatch.setattr(card_text, "_ESCAPED_MAX", 3)
    texts = [f"t{i} <{i}>" for i in range(10)] + ["x" * 300]
    assert card_text.md_escape_all(texts) == [card_text.md_escape(t) for t in texts]
    assert card_text.md_escape_all(texts) == [card_text.md_escape(t) for t in texts]
    assert len(card_text._ESCAPED) == 10  # filled by the first batch (it had room), not beyond
    assert "x" * 300 not in card_text._ESCAPED  # a text over _ESCAPED_TEXT_MAX is not kept
    class Sly(str):
        def __str__(self):
            return "<sly>"
    sly = Sly(texts[0])
    assert card_text.md_escape_all([sly]) == [card_text.md_escape(sly)] == ["\\<sly\\>"]


@pytest.mark.parametrize("texts", [[], [""], ["", ""], ["a", ""], ["", "a"], [" a"], ["a "], ["a  b"], ["a ^^ b"],
                                   ["^^", "x"], ["a^", "^b"], ["a\tb", "c"], ["x\u00a0y"], ["<", "|", "\\*"],
                                   ["IgE >100-200 IU/mL", "Observation/aaa-1", "75 kg"]])
def test_md_escape_all_on_edge_texts(texts):
    assert card_text.md_escape_all(texts) == [card_text.md_escape(t) for t in texts]


def test_every_whitespace_character_but_the_space_is_non_printable():
    """md_escape_all's fast path rests on this: a printable text without a leading, trailing or double
    space is unchanged by md_escape's whitespace flattening."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char.isspace() and char != " ":
            assert not char.isprintable(), hex(code)


@pytest.mark.parametrize("day", [date(2026, 9, 15), date(1, 1, 1), date(9999, 12, 31),
                                 datetime(2026, 9, 15, 10, 30), datetime(2026, 9, 15)])
def test_iso_date_equals_isoformat(day):
    assert card_text.iso_date(day) == day.isoformat()
    assert card_text.iso_date(day) == day.isoformat()  # remembered (a date) or not (a datetime)


def test_iso_date_table_is_bounded(monkeypatch):
    monkeypatch.setattr(card_text, "_ISO_DATES", {})
    monkeypatch.setattr(card_text, "_ISO_DATES_MAX", 3)
    days = [date(2020, 1, d) for d in range(1, 10)]
    assert [card_text.iso_date(d) for d in days] == [d.isoformat() for d in days]
    assert len(card_text._ISO_DATES) == 3


def test_detail_with_braces_in_data_and_url_equals_the_reference():
    d = make_decision("omalizumab-dose", headline="a {0} b {}", rule="{x}",
                      evidence=(Evidence("{", "}", date(2026, 1, 2), reference="Obs/{1}"),),
                      citation=Citation("{label}", "https://x.org/{a}?b={c}"))
    assert card_text.detail_for(d, ("{}",)) == ref.detail_for(d, ("{}",))


def test_option_of_equals_as_option():
    for mg, weeks in ((75, 4), (300, 2), (600, 2), (150, 4)):
        dose = table_dose(mg=mg, weeks=weeks)
        assert card_text.option_of(dose) == dose.as_option()
        assert card_text.option_of(dose) == dose.as_option()  # remembered


@pytest.mark.parametrize("value", ["12345678-1234-4678-9234-567812345678", "ABCDEF01-2345-6789-ABCD-EF0123456789",
                                   "{12345678-1234-5678-1234-567812345678}", "12345678123456781234567812345678",
                                   "urn:uuid:12345678-1234-5678-1234-567812345678", "1234567-1234-5678-1234-5678123456789",
                                   "12345678-1234-5678-1234-56781234567g", "", "x", "12345678-1234-5678-1234-5678123456780"])
def test_uuid_check_equals_uuid_parsing(value):
    def parses():
        try:
            uuidlib.UUID(value)
            return True
        except ValueError:
            return False
    assert _outcome(lambda: validation._uuid(value, "p")) == \
        (("ok", value) if parses() else ("raised", "CardValidationError", f"p: not a UUID: {value!r}"))


@pytest.mark.parametrize("url", ["https://x.org/a", "http://x.org", "ftp://x.org/a", "https:///a", "/relative",
                                 "https://x.org/a#b_c", "mailto:a@b.org"])
def test_url_check_is_the_same_checked_once_or_again(url):
    first = _outcome(lambda: validation._absolute_url(url, "p"))
    again = _outcome(lambda: validation._absolute_url(url, "p"))
    assert first == again
    assert (first[0] == "ok") is (url in validation._GOOD_URLS)


def test_single_card_fast_paths_equal_the_general_forms():
    d = make_decision("omalizumab-dose")
    assert builder._dedupe([d]) == builder._dedupe(iter([d]))
    planned = [(d, [], ["n"])]
    assert builder._one_order_button_per_regimen(planned) == [(d, [], ["n"])]


# ---------------------------------------------------------------------------------------------------
# json_copy: the deep copy of a draft's JSON tree (corrected drafts, maintenance phases, kept references)

_json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6)
_json_trees = st.recursive(_json_scalars, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=4), kids, max_size=4), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(_json_trees)
def test_json_copy_equals_deepcopy_and_shares_no_container(tree):
    copied = suggestions.json_copy(tree)
    assert copied == copy.deepcopy(tree) and type(copied) is type(tree)

    def containers(value):
        if isinstance(value, (dict, list)):
            yield value
            for child in (value.values() if isinstance(value, dict) else value):
                yield from containers(child)

    original_ids = {id(c) for c in containers(tree)}
    assert not original_ids & {id(c) for c in containers(copied)}


def test_json_copy_deep_copies_what_is_not_json():
    class Box:
        def __init__(self, items):
            self.items = items

    tree = {"a": [Box([1, 2])], "t": (1, [2])}
    copied = suggestions.json_copy(tree)
    assert copied["a"][0] is not tree["a"][0] and copied["a"][0].items == [1, 2]
    assert copied["t"] == (1, [2]) and copied["t"][1] is not tree["t"][1]
