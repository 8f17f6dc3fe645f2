"""Property-based fuzzing of the mapping, core and card layers (issue 8, item 2).

Generated FHIR-like data (rel_strategies: wrong types, missing fields, absurd / negative / zero
quantities, huge strings, deep nesting, unicode, future and invalid dates) goes
  1. straight into fhir_mappings.extract_facts / extract_draft_orders -> clinical_core.assess /
     check_orders -> cards.build_cards: no exception escapes, no layer falls back to its "internal
     error" path (which would hide a bug), every card is spec-valid and strict JSON;
  2. through the HTTP service (Flask test client): every answer is 200 with valid cards, or a 4xx
     JSON error (412 OperationOutcome when the Patient is missing); never 5xx, never a traceback.
Case counts go to artifacts/reliability-figures.json; CDS_LONG=1 runs thousands.
"""
from __future__ import annotations

import json
import math
from datetime import date

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import rel_strategies as S
from rel_env import LONG, examples

# Quick runs (the test command) are derandomized, so CI is reproducible; long runs explore new seeds.
# Long runs skip shrinking: a failure is reported as generated (shrinking multi-MB cases can take longer
# than the run itself); quick runs shrink to a readable example.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + ([] if LONG else [Phase.shrink])
FUZZ_SETTINGS = dict(deadline=None, derandomize=not LONG, database=None, phases=PHASES,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
HOOKS = ("patient-view", "order-select", "order-sign")
PID = "p1"


def _strict_json(obj) -> str:
    return json.dumps(obj, allow_nan=False)  # NaN/Infinity in a card would be invalid JSON for the EHR


def _selections(drafts) -> list[str]:
    out = []
    if isinstance(drafts, dict) and isinstance(drafts.get("entry"), list):
        for e in drafts["entry"]:
            r = e.get("resource") if isinstance(e, dict) else None
            if isinstance(r, dict) and isinstance(r.get("id"), str):
                out.append(f"{r.get('resourceType')}/{r['id']}")
    return out[:2]


# -- 1. the layers, in process --------------------------------------------------------------------------
@settings(max_examples=examples(150, 4000), **FUZZ_SETTINGS)
@given(data=S.prefetch(patient_required=False), hook=st.sampled_from(HOOKS), drafts=S.draft_orders(),
       evaluation_date=st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31)),
       region=st.sampled_from(["US", "EU"]), unavailable=st.lists(st.sampled_from(list(S.PREFETCH_KINDS)), max_size=3))
def test_layers_never_raise_and_always_give_valid_cards(data, hook, drafts, evaluation_date, region, unavailable,
                                                        figures, error_logs):
    import cards
    import clinical_core
    import fhir_mappings
    from clinical_core.facts import PatientFacts

    figures.add("fuzz_cases_layers")
    error_logs.records.clear()
    facts = fhir_mappings.extract_facts(data, patient_id=PID, evaluation_date=evaluation_date,
                                        unavailable=unavailable, resolve_reference=lambda ref: None)
    assert isinstance(facts, PatientFacts)
    assert not any(i.reference == "extract_facts" for i in facts.issues), "extract_facts hit its fallback"
    for m in (facts.weight, facts.eosinophils_latest, facts.egfr, facts.lte4, facts.total_ige.measurement):
        if m is not None:
            assert math.isfinite(m.value), m
    assessment = clinical_core.assess(facts, region=region)
    decisions = list(assessment.decisions)
    raw_drafts = None
    if hook != "patient-view":
        orders = fhir_mappings.extract_draft_orders(drafts if isinstance(drafts, dict) else None,
                                                    _selections(drafts), hook=hook, resolve_reference=None)
        decisions = list(clinical_core.check_orders(facts, orders, hook=hook, assessment=assessment, region=region))
        raw_drafts = {}
        if isinstance(drafts, dict):
            for e in drafts.get("entry") or [] if isinstance(drafts.get("entry"), list) else []:
                r = e.get("resource") if isinstance(e, dict) else None
                if isinstance(r, dict) and r.get("resourceType") == "MedicationRequest" and isinstance(r.get("id"), str):
                    raw_drafts[f"MedicationRequest/{r['id']}"] = r
    built = cards.build_cards(decisions, hook=hook, patient_id=PID, drafts=raw_drafts)
    for card in built:
        cards.validate_card(card)
        assert len(card["summary"]) < 140
    _strict_json(built)
    assert not error_logs.records, [r.getMessage()[:200] for r in error_logs.records]
    figures.add("fuzz_cards_built", len(built))


# -- 1b. real demo patients, mutated, through the whole pipeline in process ----------------------------
OMALIZUMAB_RXCUI = "302379"
LABEL_DOSES_MG = set(range(75, 601, 75))  # every cell of the US and EU tables is a multiple of 75 mg, 75..600


def check_omalizumab_suggestions(cards_json: list[dict]) -> int:
    """Safety property: whatever the input, a suggested omalizumab order carries a label dose
    (75..600 mg in 75 mg steps, mg) every 2 or 4 weeks, subcutaneously. Returns how many were seen."""
    seen = 0
    for card in cards_json:
        for sug in card.get("suggestions") or []:
            for action in sug.get("actions") or []:
                res = action.get("resource")
                if not isinstance(res, dict) or res.get("resourceType") != "MedicationRequest":
                    continue
                codes = {c.get("code") for c in (res.get("medicationCodeableConcept") or {}).get("coding") or []}
                if OMALIZUMAB_RXCUI not in codes:
                    continue
                seen += 1
                for dosage in res.get("dosageInstruction") or []:
                    for dr in dosage.get("doseAndRate") or []:
                        q = dr.get("doseQuantity") or {}
                        assert q.get("code") == "mg" and q.get("value") in LABEL_DOSES_MG, (card["summary"], q)
                    rep = (dosage.get("timing") or {}).get("repeat") or {}
                    assert rep.get("period") in (2, 4) and rep.get("periodUnit") == "wk", (card["summary"], rep)
    return seen


@settings(max_examples=examples(120, 3000), **FUZZ_SETTINGS)
@given(request=S.demo_requests())
def test_mutated_demo_patients_through_the_pipeline(request, figures, error_logs):
    import rel_demo
    from cards import validate_card
    from cds_service.errors import PrefetchUnavailable
    from cds_service.fhir_client import NoFhirAccess
    from cds_service.pipeline import evaluate
    from cds_service.services import HOOKS as ALL_HOOKS
    from cds_service.settings import Settings
    from cds_service.validation import hook_request_problems, json_depth_exceeds

    figures.add("fuzz_cases_demo_seeded")
    error_logs.records.clear()
    conf = Settings.from_env(environ={}, overrides={"CDS_CLOCK": rel_demo.CLOCK, "CDS_AUTH": "off"})
    if json_depth_exceeds(request, conf.max_json_depth) or hook_request_problems(request, ALL_HOOKS):
        figures.add("fuzz_demo_outcome_400")
        return
    try:
        result = evaluate(request, settings=conf, fhir_client=NoFhirAccess("fuzz"))
    except PrefetchUnavailable:
        figures.add("fuzz_demo_outcome_412")
        return
    for card in result["cards"]:
        validate_card(card)
    _strict_json(result)
    figures.add("fuzz_omalizumab_orders_checked", check_omalizumab_suggestions(result["cards"]))
    figures.add("fuzz_demo_outcome_cards")
    assert not error_logs.records, [r.getMessage()[:200] for r in error_logs.records]


# -- 2. the HTTP service -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory):
    from cds_service.app import create_app

    db = tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite3"
    app = create_app({"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{db}", "CDS_CLOCK": "2026-11-01"})
    app.testing = False  # exercise the real error handlers, not test-mode propagation
    return app.test_client()


def _check_http(resp) -> str:
    from cards import validate_card

    text = resp.get_data(as_text=True)
    assert resp.status_code < 500, (resp.status_code, text[:500])
    assert "Traceback" not in text and "File \"/" not in text
    assert resp.is_json, resp.content_type
    body = json.loads(text)
    if resp.status_code == 200:
        assert isinstance(body.get("cards"), list)
        for card in body["cards"]:
            validate_card(card)
        return "cards"
    assert 400 <= resp.status_code < 500
    # 422 is the service's net under a clinical-layer exception: it keeps the EHR safe, but for the fuzzer
    # it is a defect found (the in-process tests show where).
    assert resp.status_code != 422, ("a clinical layer raised", body)
    if resp.status_code == 412:
        assert body["resourceType"] == "OperationOutcome"
    else:
        assert isinstance(body.get("error"), str) and body["error"]
    return str(resp.status_code)


def _hook_body(hook, prefetch, drafts):
    import uuid

    body = {"hook": hook, "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/dr-1", "patientId": PID}, "prefetch": prefetch}
    if hook != "patient-view":
        body["context"]["draftOrders"] = drafts
        if hook == "order-select":
            body["context"]["selections"] = _selections(drafts) or ["MedicationRequest/none"]
    return body


SERVICE = {"patient-view": "omalizumab-patient-view", "order-select": "omalizumab-order-review",
           "order-sign": "omalizumab-order-review"}


@settings(max_examples=examples(80, 2000), **FUZZ_SETTINGS)
@given(prefetch=S.prefetch(allow_nan=False), hook=st.sampled_from(HOOKS), drafts=S.draft_orders(allow_nan=False))
def test_service_answers_cards_or_a_clear_4xx(prefetch, hook, drafts, fuzz_client, figures):
    resp = fuzz_client.post(f"/cds-services/{SERVICE[hook]}", data=json.dumps(_hook_body(hook, prefetch, drafts)),
                            content_type="application/json")
    outcome = _check_http(resp)
    figures.add("fuzz_cases_http")
    figures.add(f"fuzz_http_outcome_{outcome}")


@settings(max_examples=examples(40, 1000), **FUZZ_SETTINGS)
@given(request=S.demo_requests(allow_nan=False))
def test_mutated_demo_patients_over_http(request, fuzz_client, figures):
    resp = fuzz_client.post(f"/cds-services/{SERVICE[request['hook']]}", data=json.dumps(request),
                            content_type="application/json")
    outcome = _check_http(resp)
    if outcome == "cards":
        check_omalizumab_suggestions(resp.get_json()["cards"])
    figures.add("fuzz_cases_http_demo_seeded")
    figures.add(f"fuzz_http_demo_outcome_{outcome}")


# Raw-text attacks on the JSON parser itself: constants Python accepts but JSON does not, huge numbers,
# deep nesting, odd encodings, wrong content types.
RAW_BODIES = st.one_of(
    st.sampled_from([b"", b"{", b"[]", b"null", b"1", b'"x"', b"NaN", b'{"hook": NaN}', b'{"hook": Infinity}',
                     b'{"a": 1e999}', b'{"a": ' + b"9" * 5000 + b"}", b"[" * 5000 + b"]" * 5000,
                     b'{"a":' * 100 + b"1" + b"}" * 100, b"\xff\xfe{\x00}\x00", b"\xef\xbb\xbf{}",
                     b'{"hook": "patient-view", "hook": "order-sign"}', b'{"\\ud800": 1}',
                     b"\x00" * 100]),
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@settings(max_examples=examples(60, 1000), **FUZZ_SETTINGS)
@given(raw=RAW_BODIES, ctype=st.sampled_from(["application/json", "application/fhir+json", "text/plain",
                                               "application/x-www-form-urlencoded", "multipart/form-data", ""]),
       path=st.sampled_from(["/cds-services/omalizumab-patient-view", "/cds-services/omalizumab-order-review",
                             "/cds-services/omalizumab-patient-view/feedback", "/cds-services/nope"]))
def test_raw_bodies_never_give_5xx(raw, ctype, path, fuzz_client, figures):
    resp = fuzz_client.post(path, data=raw, content_type=ctype or None)
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True)[:300])
    _check_http(resp)
    figures.add("fuzz_cases_raw")


@settings(max_examples=examples(60, 1000), **FUZZ_SETTINGS)
@given(body=S.junk(allow_nan=False), path=st.sampled_from(["/cds-services/omalizumab-patient-view/feedback",
                                                           "/cds-services/omalizumab-order-review/feedback"]))
def test_feedback_junk_is_a_clear_4xx(body, path, fuzz_client, figures):
    resp = fuzz_client.post(path, data=json.dumps({"feedback": body} if isinstance(body, list) else body),
                            content_type="application/json")
    outcome = _check_http(resp)
    assert outcome != "cards"
    figures.add("fuzz_cases_feedback")
