"""The demo end to end over real HTTP (no browser): every demo patient through the real service.

The expected answers are those written in demo/patients/index.json from the clinical brief (not read
back from the service). Two data paths are covered and must agree:
- fetch path (what the demo page does): no prefetch, `fhirServer` = the demo FHIR server; the service
  fetches every key over HTTP from /demo/fhir;
- prefetch path (what the CDS Hooks Sandbox does): the client resolves the discovery templates against
  /demo/fhir itself and sends them as `prefetch`.
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone

import pytest
import requests
from sqlalchemy import create_engine, text

from demo.store import raw_index

PATIENTS = raw_index()["patients"]
CASES = [pytest.param(p, hook, id=f"{p['slug']}-{hook}") for p in PATIENTS for hook in p["expected"]]
TOKEN = re.compile(r"\{\{\s*context\.(\w+)\s*\}\}")


@pytest.fixture(scope="module")
def demo_env(live_server):
    cfg = requests.get(live_server.base + "/demo/api/config", timeout=5).json()
    services = requests.get(live_server.base + "/cds-services", timeout=5).json()["services"]
    return live_server, cfg, {s["hook"]: s for s in services}


def _request(cfg: dict, p: dict, hook: str, *, prefetch: dict | None = None) -> dict:
    context: dict = {"userId": "Practitioner/demo-practitioner", "patientId": p["patientId"]}
    if hook != "patient-view":
        draft_id = p["expected"][hook]["draft"]
        draft = next(d["resource"] for d in cfg["drafts"] if d["id"] == draft_id)
        draft = json.loads(json.dumps(draft))
        draft["subject"] = {"reference": f"Patient/{p['patientId']}"}
        context["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": draft}]}  # no type, as the Sandbox
        if hook == "order-select":
            context["selections"] = [f"MedicationRequest/{draft['id']}"]
    body = {"hook": hook, "hookInstance": str(uuid.uuid4()), "fhirServer": cfg["fhirServer"], "context": context}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def _call(env, p: dict, hook: str, *, prefetch: dict | None = None) -> list[dict]:
    server, cfg, services = env
    r = requests.post(f"{server.base}/cds-services/{services[hook]['id']}",
                      json=_request(cfg, p, hook, prefetch=prefetch), timeout=20)
    assert r.status_code == 200, f"{r.status_code} {r.text[:500]}\n{server.log_tail()}"
    return r.json()["cards"]


def _topic(card: dict) -> str:
    return card["source"]["topic"]["code"]


def _check_expected(p: dict, hook: str, cards: list[dict]) -> None:
    exp = p["expected"][hook]
    topics = [_topic(c) for c in cards]
    label = f"{p['slug']} {hook}: got {[(t, c['summary']) for t, c in zip(topics, cards)]}"
    assert set(exp["must"]) <= set(topics), label
    assert set(topics) <= set(exp["must"]) | set(exp["may"]) | set(exp.get("anyOf", [])), label
    if exp.get("anyOf"):
        assert set(exp["anyOf"]) & set(topics), label
    if exp.get("exactlyOne"):
        assert topics.count(exp["exactlyOne"]) == 1, label
    if exp.get("mention"):
        assert any(exp["mention"] in (c["summary"] + c.get("detail", "")).lower() for c in cards), label
    dose = p.get("dose")
    if hook == "patient-view" and dose:
        dose_cards = [c for c in cards if _topic(c) == "omalizumab-dose"]
        wanted = f"{dose['mg']} mg"
        every = f"every {dose['intervalWeeks']} weeks"
        assert any(wanted in c["summary"] and every in c["summary"] for c in dose_cards), label


@pytest.mark.parametrize("p,hook", CASES)
def test_expected_topics_fetch_path(demo_env, p, hook):
    _check_expected(p, hook, _call(demo_env, p, hook))


def _resolve_prefetch(fhir_base: str, templates: dict, context: dict) -> dict:
    """What the Sandbox does: fill {{context.x}}, GET each query from the FHIR server, omit failures."""
    out = {}
    for key, template in templates.items():
        query = TOKEN.sub(lambda m: str(context.get(m.group(1), m.group(0))), template)
        if "{{" in query:
            continue  # unresolved token: the Sandbox skips the key
        r = requests.get(f"{fhir_base}/{query}", headers={"Accept": "application/json+fhir"}, timeout=5)
        if r.status_code == 200:
            out[key] = r.json()
    return out


@pytest.mark.parametrize("p", PATIENTS, ids=[p["slug"] for p in PATIENTS])
def test_prefetch_path_gives_the_same_answer_as_the_fetch_path(demo_env, p):
    server, cfg, services = demo_env
    service = services["patient-view"]
    prefetch = _resolve_prefetch(cfg["fhirServer"], service.get("prefetch", {}),
                                 {"patientId": p["patientId"], "userId": "Practitioner/demo-practitioner"})
    assert set(prefetch) == set(service["prefetch"]), "every template must be answerable by /demo/fhir"
    with_prefetch = _call(demo_env, p, "patient-view", prefetch=prefetch)
    fetched = _call(demo_env, p, "patient-view")
    _check_expected(p, "patient-view", with_prefetch)
    assert [(_topic(c), c["summary"]) for c in with_prefetch] == [(_topic(c), c["summary"]) for c in fetched]


def test_partial_prefetch_is_completed_from_the_demo_fhir_server(demo_env):
    """A client that resolved only some templates (the Sandbox omits keys that failed): same answer."""
    server, cfg, services = demo_env
    p = next(x for x in PATIENTS if x["slug"] == "on-treatment")
    service = services["patient-view"]
    full = _resolve_prefetch(cfg["fhirServer"], service["prefetch"],
                             {"patientId": p["patientId"], "userId": "Practitioner/demo-practitioner"})
    partial = {k: v for k, v in full.items() if k in ("patient", "totalIge", "medicationRequests")}
    assert len(partial) == 3 and len(full) > len(partial)
    cards = _call(demo_env, p, "patient-view", prefetch=partial)
    _check_expected(p, "patient-view", cards)
    assert [c["summary"] for c in cards] == [c["summary"] for c in _call(demo_env, p, "patient-view", prefetch=full)]


def test_feedback_is_stored_and_readable_through_the_demo_endpoint(demo_env):
    server, cfg, services = demo_env
    p = next(x for x in PATIENTS if x["slug"] == "allergic-asthma-adult")
    cards = _call(demo_env, p, "patient-view")
    card = next(c for c in cards if _topic(c) == "omalizumab-dose")
    suggestion = card["suggestions"][0]
    entry = {"card": card["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion["uuid"]}],
             "outcomeTimestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    r = requests.post(f"{server.base}/cds-services/{services['patient-view']['id']}/feedback",
                      json={"feedback": [entry]}, timeout=5)
    assert r.status_code == 200, r.text
    shown = requests.get(f"{server.base}/demo/feedback", params={"card": card["uuid"]}, timeout=5).json()
    assert [(f["outcome"], f["acceptedSuggestions"], f["topic"]) for f in shown["feedback"]] == \
        [("accepted", [suggestion["uuid"]], "omalizumab-dose")]
    engine = create_engine(server.database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT outcome, card_known FROM feedback WHERE card_uuid = :u"),
                            {"u": card["uuid"]}).all()
    engine.dispose()
    assert [(o, bool(k)) for o, k in rows] == [("accepted", True)]
    assert requests.get(f"{server.base}/demo/feedback", timeout=5).status_code == 400


def test_page_and_assets_are_served_without_external_urls(demo_env):
    server, cfg, _ = demo_env
    page = requests.get(server.base + "/", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/demo/static/") for a in assets)
    for asset in assets:
        r = requests.get(server.base + asset, timeout=5)
        assert r.status_code == 200, asset
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", r.text), asset
    assert cfg["fhirServer"] == server.base + "/demo/fhir"
    assert {d["id"] for d in cfg["drafts"]} >= {"draft-omalizumab-300mg-q4w", "draft-omalizumab-150mg-q4w",
                                                "draft-cyclosporine-150mg-bid", "draft-mepolizumab-100mg-q4w"}


def test_sandbox_style_access_to_the_demo_fhir_server(demo_env):
    """What the CDS Hooks Sandbox does on start-up and for prefetch: CORS, metadata, Patient, POST _search."""
    server, cfg, _ = demo_env
    origin = {"Origin": "http://localhost:8081", "Accept": "application/json+fhir"}
    fhir = cfg["fhirServer"]
    for path in ("/metadata", "/Patient", "/Patient/demo-aerd", "/Condition?patient=demo-aerd"):
        r = requests.get(fhir + path, headers=origin, timeout=5)
        assert r.status_code == 200 and r.headers.get("Access-Control-Allow-Origin") in ("*", origin["Origin"]), path
    r = requests.post(fhir + "/Observation/_search", headers=origin, timeout=5,
                      data={"patient": "demo-aerd", "code": "http://loinc.org|33343-5", "_sort": "-date", "_count": "5"})
    assert r.status_code == 200 and r.json()["total"] == 1
    assert r.json()["entry"][0]["resource"]["valueQuantity"]["value"] == 310


def test_sandbox_rx_view_cyclosporine_draft_and_bearer_token_are_accepted(demo_env):
    """The Sandbox's medication picker only offers RxNorm cyclosporine products (e.g. 197553) and always
    sends a Bearer JWT; with CDS_AUTH=off the service must still answer, and flag the CKD patient."""
    server, cfg, services = demo_env
    draft = {"resourceType": "MedicationRequest", "id": "request-123", "status": "draft", "intent": "order",
             "subject": {"reference": "Patient/demo-csu-ckd-hypertension"},
             "medicationCodeableConcept": {"text": "Cyclosporine 25 MG Oral Capsule", "coding": [
                 {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "197553",
                  "display": "Cyclosporine 25 MG Oral Capsule"}]},
             "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 1, "system": "http://unitsofmeasure.org",
                                                                      "code": "{pill}"}}],
                                    "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}}]}
    body = {"hook": "order-select", "hookInstance": str(uuid.uuid4()), "fhirServer": cfg["fhirServer"],
            "context": {"userId": "Practitioner/COREPRACTITIONER1", "patientId": "demo-csu-ckd-hypertension",
                        "selections": ["MedicationRequest/request-123"],
                        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]}}}
    r = requests.post(f"{server.base}/cds-services/{services['order-select']['id']}", json=body, timeout=20,
                      headers={"Authorization": "Bearer eyJhbGciOiJFUzM4NCJ9.e30.sig", "Origin": "http://localhost:8081"})
    assert r.status_code == 200, r.text
    assert "cyclosporine-unsafe" in [_topic(c) for c in r.json()["cards"]]


def test_startup_banner_names_the_urls_to_open():
    import demo

    banner = demo.startup_banner("http://127.0.0.1:8080")
    assert "demo page : http://127.0.0.1:8080/\n" in banner
    assert "http://127.0.0.1:8080/cds-services" in banner and "http://127.0.0.1:8080/demo/fhir" in banner
    assert "fhirServiceUrl=http%3A%2F%2F127.0.0.1%3A8080%2Fdemo%2Ffhir" in banner
