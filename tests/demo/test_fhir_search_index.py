"""The demo FHIR server's indexed search (TypeIndex) against the linear scan it replaced.

The index narrows a search to the resources that can pass its first filter (a `patient`/`subject`
reference); these tests run every query variant both ways, over every demo patient and every
resource type, and require the same matches in the same order, or the same SearchError text.
"""
from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demo import fhir_search
from demo.store import ANCHOR_DATE, RESOURCE_TYPES, raw_index, store_for

TODAY = date(2026, 11, 20)
PATIENTS = [p["patientId"] for p in raw_index()["patients"]] + ["nobody"]
IGE = "http://loinc.org|19113-0,http://loinc.org|2462-0,http://loinc.org|76488-6"


def _old_sort(resources, spec):
    """fhir_search._sort before each key was computed once (the reference for the sort)."""
    out = list(resources)
    for part in reversed([p.strip() for p in spec.split(",") if p.strip()]):
        desc = part.startswith("-")
        key = fhir_search._sort_key(part.lstrip("-"))
        present = [r for r in out if key(r) is not None]
        missing = [r for r in out if key(r) is None]
        present.sort(key=key, reverse=desc)
        out = present + missing
    return out


def _both(store, rtype, params):
    """(indexed, linear) outcomes: (ids of the matches, offset, count) or ('error', text)."""
    outcomes = []
    for resources in (store.index_of(rtype), list(store.all_of(rtype))):
        try:
            r = fhir_search.search(resources, rtype, params)
            outcomes.append(([m["id"] for m in r.matches], [m["id"] for m in r.page], r.offset, r.count,
                             r.has_next))
        except fhir_search.SearchError as exc:
            outcomes.append(("error", str(exc)))
    return outcomes


def _variants(pid):
    """Query variants around one patient: reference forms, OR/AND, parameter order, sorts, paging,
    token forms, dates (valid and invalid, before and after the patient filter)."""
    refs = [pid, f"Patient/{pid}", f"Patient/{pid}/", f"{pid},nobody", f"nobody,{pid}", ",", "",
            f"http://x/fhir/Patient/{pid}"]
    extra = [[], [("code", IGE)], [("code", "2462-0")], [("code", "|2462-0")], [("code", "http://loinc.org|")],
             [("status", "final")], [("category", "laboratory")], [("clinical-status", "active,recurrence")],
             [("_sort", "-date")], [("_sort", "date"), ("_count", "2")], [("_sort", "_id,-date")],
             [("_count", "1"), ("_getpagesoffset", "1")], [("date", "ge2025-01-01")], [("date", "lt2026-11-01T00:00:00Z")],
             [("date", "xx2025-01-01")], [("date", "not-a-date")], [("_id", "x")], [("_sort", "bogus")],
             [("unknown", "1")], [("_count", "-1")], [("intent", "order")], [("type", "allergy")],
             [("patient", "nobody")], [("subject", pid)]]
    for ref, more in itertools.product(refs, extra):
        for name in ("patient", "subject"):
            yield [(name, ref)] + more
            yield more + [(name, ref)]  # reference filter not first: no narrowing, same answer
    yield [("patient", pid), ("patient", pid)]
    yield [("patient", pid), ("_format", "json"), ("code", IGE), ("_sort", "-date"), ("_count", "20")]


@pytest.mark.parametrize("today", [ANCHOR_DATE, TODAY])
@pytest.mark.parametrize("pid", PATIENTS)
def test_indexed_search_equals_the_linear_scan(pid, today):
    store = store_for(today)
    for rtype in RESOURCE_TYPES:
        for params in _variants(pid):
            indexed, linear = _both(store, rtype, params)
            assert indexed == linear, (rtype, params)


def test_searches_without_a_patient_and_every_prefetch_template():
    from cds_service import services
    from cds_service.prefetch import render_template

    store = store_for(TODAY)
    for rtype in RESOURCE_TYPES:
        for params in ([], [("_sort", "-date")], [("code", IGE)], [("_count", "3")], [("date", "bad")]):
            indexed, linear = _both(store, rtype, params)
            assert indexed == linear, (rtype, params)
    from urllib.parse import parse_qsl
    for pid in PATIENTS:
        for template in services.prefetch_templates().values():
            query = render_template(template, {"patientId": pid, "userId": "Practitioner/x"})
            if "?" in query:
                rtype, _, qs = query.partition("?")
                indexed, linear = _both(store, rtype, parse_qsl(qs, keep_blank_values=True))
                assert indexed == linear, query


def test_the_sort_equals_its_reference():
    store = store_for(TODAY)
    for rtype in RESOURCE_TYPES:
        resources = list(store.all_of(rtype))
        for spec in ("date", "-date", "_id", "-_id", "_id,-date", "-date,_id", "_lastUpdated", " date , -_id "):
            assert fhir_search._sort(resources, spec) == _old_sort(resources, spec), (rtype, spec)


def test_the_index_covers_the_store():
    store = store_for(TODAY)
    for rtype in RESOURCE_TYPES:
        assert list(store.index_of(rtype)) == list(store.all_of(rtype))
    assert list(store.index_of("Encounter")) == []


def test_bundle_text_is_json_dumps_of_the_bundle():
    """The server's spliced searchset text against json.dumps of the whole Bundle, for every
    prefetch-like search of every demo patient (and empty results, and non-ASCII text)."""
    import json

    from demo.fhir_server import bundle_text

    store = store_for(TODAY)
    for rtype in RESOURCE_TYPES:
        for res in store.all_of(rtype):
            assert store.text_of(res) == json.dumps(res, ensure_ascii=False)
    head = {"resourceType": "Bundle", "id": "x", "meta": {"lastUpdated": "2026-11-20T00:00:00+00:00"},
            "type": "searchset", "total": 0, "link": [{"relation": "self", "url": "http://h/é?a=b"}]}
    for pid in PATIENTS:
        for rtype in RESOURCE_TYPES:
            ref = "_id" if rtype == "Patient" else "patient"
            for params in ([(ref, pid)], [(ref, pid), ("_count", "0")], [(ref, pid), ("_count", "1")], [("_count", "5")]):
                page = fhir_search.search(store.index_of(rtype), rtype, params).page
                url = lambda r: f"http://h/demo/fhir/{r['resourceType']}/{r['id']}"
                want = json.dumps(head | {"entry": [{"fullUrl": url(r), "resource": r, "search": {"mode": "match"}}
                                                    for r in page]}, ensure_ascii=False)
                assert bundle_text(head, [(url(r), store.text_of(r)) for r in page]) == want


def test_read_answers_the_resource_text(tmp_path):
    import json

    from flask import Flask

    import demo

    app = Flask("demo-read")
    app.config["CDS_CLOCK"] = TODAY.isoformat()
    demo.init_app(app)
    client = app.test_client()
    store = store_for(TODAY)
    for rtype in RESOURCE_TYPES:
        for rid in list(store.by_type[rtype])[:5]:
            body = client.get(f"/demo/fhir/{rtype}/{rid}").get_data(as_text=True)
            assert body == json.dumps(store.read(rtype, rid), ensure_ascii=False)


def _old_token_match(codings, value):
    """fhir_search's token match before TokenSet (the reference)."""
    if "|" in value:
        system, _, code = value.partition("|")
        if not system:
            return any(not c.get("system") and c.get("code") == code for c in codings)
        if not code:
            return any(c.get("system") == system for c in codings)
        return any(c.get("system") == system and c.get("code") == code for c in codings)
    return any(c.get("code") == value for c in codings)


def _old_token_any(codings, param_value):
    return any(_old_token_match(codings, alt) for alt in param_value.split(",") if alt)


_WORDS = st.sampled_from(["", "a", "b", "http://loinc.org", "2462-0", "a|b", "é"])
_FIELD = st.one_of(_WORDS, st.none(), st.integers(-1, 1), st.booleans(), st.lists(_WORDS, max_size=1),
                   st.dictionaries(_WORDS, _WORDS, max_size=1))
_CODING = st.dictionaries(st.sampled_from(["system", "code", "display"]), _FIELD, max_size=3)
_VALUE = st.lists(st.sampled_from(["", "a", "b", "|a", "|", "a|", "a|b", "b|a", "|b|a", "a||", "http://loinc.org|2462-0",
                                   "2462-0", "http://loinc.org|", "é"]), max_size=4).map(",".join)


@settings(max_examples=3000, deadline=None)
@given(st.lists(_CODING, max_size=4), _VALUE)
def test_token_set_equals_the_old_token_match(codings, value):
    assert fhir_search.TokenSet(value).matches(codings) == _old_token_any(codings, value)


def test_token_set_over_the_demo_store():
    store = store_for(TODAY)
    values = [IGE, "2462-0", "|2462-0", "http://loinc.org|", "active,recurrence,relapse", "laboratory",
              "http://terminology.hl7.org/CodeSystem/condition-clinical|active", ",", "|", "x|"]
    for rtype in RESOURCE_TYPES:
        for res in store.all_of(rtype):
            for getter in (lambda r: r.get("code"), fhir_search._category_codes, lambda r: r.get("clinicalStatus"),
                           fhir_search._med_code, lambda r: r.get("verificationStatus")):
                codings = fhir_search._codings(getter(res))
                for value in values:
                    assert fhir_search.TokenSet(value).matches(codings) == _old_token_any(codings, value)

