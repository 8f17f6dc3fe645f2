"""HTTP behaviour of POST /cds-services/{id}: validation, status codes, response shape."""
import json
import logging

import pytest
import responses

from svc_helpers import FHIR, ORDER, PV, full_prefetch, hook_request


@pytest.fixture
def spied(make_client, spy):
    return make_client(CDS_EVALUATOR=spy), spy


def test_valid_patient_view_reaches_the_evaluator_with_the_body(spied):
    client, spy = spied
    body = hook_request(prefetch=full_prefetch())
    resp = client.post(PV, json=body)
    assert resp.status_code == 200
    assert resp.get_json() == {"cards": []}
    assert spy.calls[0]["body"] == body


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_order_hooks_share_one_service(spied, hook):
    client, spy = spied
    assert client.post(ORDER, json=hook_request(hook, prefetch=full_prefetch())).status_code == 200
    assert spy.calls[-1]["body"]["hook"] == hook


def _problems(resp):
    assert resp.status_code == 400, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["error"] and isinstance(body["details"], list) and body["details"]
    return " | ".join(body["details"])


@pytest.mark.parametrize("mutate, expected", [
    (lambda b: b.update(hook="order-sign"), "hook"),
    (lambda b: b.pop("hook"), "hook"),
    (lambda b: b.update(hookInstance="not-a-uuid"), "hookInstance"),
    (lambda b: b.pop("hookInstance"), "hookInstance"),
    (lambda b: b.pop("context"), "context"),
    (lambda b: b["context"].pop("patientId"), "context.patientId"),
    (lambda b: b["context"].update(patientId="a/b"), "context.patientId"),
    (lambda b: b["context"].update(userId="doc1"), "context.userId"),
    (lambda b: b["context"].update(userId="Device/1"), "context.userId"),
    (lambda b: b["context"].update(encounterId=7), "context.encounterId"),
    (lambda b: b.update(fhirServer="not a url"), "fhirServer"),
    (lambda b: b.update(fhirServer="https://user:pw@fhir.example.org/r4"), "fhirServer"),
    (lambda b: b.update(fhirAuthorization={"access_token": "t", "token_type": "Bearer", "expires_in": 1,
                                           "scope": "s", "subject": "c"}), "requires fhirServer"),
    (lambda b: b.update(fhirServer=FHIR, fhirAuthorization={"access_token": "t"}), "token_type"),
    (lambda b: b.update(fhirServer=FHIR, fhirAuthorization={"access_token": "t", "token_type": "MAC",
                                                           "expires_in": "300", "scope": "s", "subject": "c"}),
     "expires_in"),
    (lambda b: b.update(prefetch=[]), "prefetch"),
    (lambda b: b.update(prefetch={"weight": "heavy"}), "prefetch.weight"),
    (lambda b: b.update(prefetch={"patient": {"resourceType": "Patient", "id": "someone-else"}}),
     "does not match"),
    (lambda b: b.update(extension="x"), "extension"),
])
def test_invalid_patient_view_requests_name_the_problem(spied, mutate, expected):
    client, spy = spied
    body = hook_request()
    mutate(body)
    assert expected in _problems(client.post(PV, json=body))
    assert spy.calls == []


def test_every_problem_is_reported_at_once(spied):
    client, _ = spied
    details = _problems(client.post(PV, json={"hook": "patient-view", "hookInstance": 1, "context": {}}))
    for field in ("hookInstance", "context.userId", "context.patientId"):
        assert field in details


@pytest.mark.parametrize("hook, mutate, expected", [
    ("order-select", lambda c: c.pop("selections"), "context.selections"),
    ("order-select", lambda c: c.update(selections=[]), "context.selections"),
    ("order-select", lambda c: c.update(selections=["MedicationRequest/other"]), "not in context.draftOrders"),
    ("order-select", lambda c: c.pop("draftOrders"), "context.draftOrders"),
    ("order-sign", lambda c: c.pop("draftOrders"), "context.draftOrders"),
    ("order-sign", lambda c: c.update(draftOrders={"resourceType": "MedicationRequest"}), "Bundle"),
    ("order-sign", lambda c: c.update(draftOrders={"resourceType": "Bundle", "entry": [{"resource": 1}]}),
     "entry[0]"),
    ("order-sign", lambda c: c.update(userId="Patient/1"), "context.userId"),
])
def test_order_hook_context_rules(spied, hook, mutate, expected):
    client, _ = spied
    body = hook_request(hook)
    mutate(body["context"])
    assert expected in _problems(client.post(ORDER, json=body))


def test_draft_bundle_without_type_is_accepted_as_the_sandbox_sends_it(spied):
    client, spy = spied
    body = hook_request("order-select", prefetch=full_prefetch())
    assert "type" not in body["context"]["draftOrders"]
    assert client.post(ORDER, json=body).status_code == 200


def test_unknown_service_is_404(spied):
    client, _ = spied
    resp = client.post("/cds-services/nope", json=hook_request())
    assert resp.status_code == 404 and resp.get_json()["error"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_non_json_content_type_is_415(spied, content_type):
    client, spy = spied
    kwargs = {"data": json.dumps(hook_request())}
    if content_type:
        kwargs["content_type"] = content_type
    resp = client.post(PV, **kwargs)
    assert resp.status_code == 415 and resp.is_json
    assert spy.calls == []


def test_fhir_json_content_type_is_accepted(spied):
    client, _ = spied
    resp = client.post(PV, data=json.dumps(hook_request(prefetch=full_prefetch())),
                       content_type="application/fhir+json; charset=utf-8")
    assert resp.status_code == 200


def test_body_over_the_limit_is_413(make_client, spy):
    client = make_client(CDS_EVALUATOR=spy, CDS_MAX_BODY_BYTES="2048")
    body = hook_request(extension={"x": "a" * 4096})
    resp = client.post(PV, json=body)
    assert resp.status_code == 413 and resp.is_json
    assert spy.calls == []


def test_default_body_limit_is_5_mb(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_wrong_method_is_405_json(spied, method):
    client, _ = spied
    resp = getattr(client, method)(PV)
    assert resp.status_code == 405 and resp.is_json and "POST" in resp.headers["Allow"]


def test_discovery_rejects_post_with_405(spied):
    client, _ = spied
    assert client.post("/cds-services", json={}).status_code == 405


@pytest.mark.parametrize("raw", [b"", b"{", b"[1,2", b'{"hook": NaN}', b"\xff\xfe\x00", b"null", b"[]", b'"x"',
                                 b"1e999999", b'{"a":' * 100 + b"1" + b"}" * 100, b"[" * 100000])
def test_junk_bodies_are_400_never_500(spied, raw):
    client, spy = spied
    resp = client.post(PV, data=raw, content_type="application/json")
    assert resp.status_code == 400, (raw[:20], resp.status_code)
    assert resp.is_json and "Traceback" not in resp.get_data(as_text=True)
    assert spy.calls == []


def test_nesting_depth_limit_is_configurable(make_client, spy):
    client = make_client(CDS_EVALUATOR=spy, CDS_MAX_JSON_DEPTH="10")
    body = hook_request(prefetch=full_prefetch())
    body["extension"] = {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": 1}}}}}}}}}}
    details = _problems(client.post(PV, json=body))
    assert "nested deeper than 10" in details


def test_nulls_and_empty_fields_are_omitted_from_the_response(make_client):
    card = {"uuid": "c1", "summary": "s", "indicator": "info", "source": {"label": "x", "url": None},
            "links": [], "detail": "", "suggestions": [{"label": "l", "uuid": "s1", "actions": []}]}
    client = make_client(CDS_EVALUATOR=lambda body, **_: {"cards": [card], "systemActions": []})
    resp = client.post(PV, json=hook_request(prefetch=full_prefetch()))
    assert resp.get_json() == {"cards": [{"uuid": "c1", "summary": "s", "indicator": "info",
                                          "source": {"label": "x"},
                                          "suggestions": [{"label": "l", "uuid": "s1"}]}]}


def test_no_guidance_is_an_empty_cards_array(make_client):
    client = make_client(CDS_EVALUATOR=lambda body, **_: {"cards": []})
    assert client.post(PV, json=hook_request(prefetch=full_prefetch())).get_json() == {"cards": []}


def test_security_headers_on_api_responses(spied):
    client, _ = spied
    for resp in (client.get("/cds-services"), client.post(PV, json=hook_request(prefetch=full_prefetch())),
                 client.post(PV, data="x", content_type="text/plain")):
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/cds-services", PV, PV + "/feedback"])
def test_cors_preflight_is_answered_for_all_endpoint_kinds(spied, path):
    client, _ = spied
    resp = client.options(path, headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": "authorization, content-type"})
    assert 200 <= resp.status_code < 300
    assert resp.headers["Access-Control-Allow-Origin"] in ("*", "http://localhost:3000")
    allowed = resp.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]


def test_cors_production_allowlist(make_client, spy):
    client = make_client(CDS_EVALUATOR=spy, CDS_CORS_ORIGINS="https://ehr.example.org")
    ok = client.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    other = client.get("/cds-services", headers={"Origin": "https://evil.example.com"})
    assert ok.headers.get("Access-Control-Allow-Origin") == "https://ehr.example.org"
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_headers_answer_browsers_and_errors_but_not_back_ends(spied):
    """A browser names its Origin on every cross-origin call and gets CORS headers, on a card answer
    and on an error alike (so the Sandbox can show the error); an EHR back end sends no Origin, is
    outside CORS and gets none."""
    client, _ = spied
    origin = {"Origin": "http://localhost:3000"}
    for resp in (client.post(PV, json=hook_request(prefetch=full_prefetch()), headers=origin),
                 client.post(PV, data="x", content_type="text/plain", headers=origin),
                 client.get("/cds-services", headers=origin)):
        assert resp.headers["Access-Control-Allow-Origin"] in ("*", "http://localhost:3000"), resp.status_code
        assert "Location" in resp.headers["Access-Control-Expose-Headers"]
    for resp in (client.post(PV, json=hook_request(prefetch=full_prefetch())),
                 client.post(PV, data="x", content_type="text/plain"), client.get("/cds-services")):
        assert resp.status_code in (200, 415)
        assert not any(h.lower().startswith("access-control-") for h in resp.headers.keys()), resp.headers


@responses.activate
def test_fhir_server_not_allowed_is_refused_without_contacting_it(make_client, spy):
    client = make_client(CDS_EVALUATOR=spy, CDS_ALLOWED_FHIR_SERVERS="https://fhir.ok.org/r4")
    body = hook_request(prefetch={"patient": {"resourceType": "Patient", "id": "p1"}},
                        fhir_server="https://attacker.example.com/fhir", token="secret")
    resp = client.post(PV, json=body)
    assert resp.status_code == 403
    assert "fhirServer" in " ".join(resp.get_json()["details"])
    assert len(responses.calls) == 0 and spy.calls == []


def test_allowed_fhir_server_matches_after_normalisation(make_client, spy):
    client = make_client(CDS_EVALUATOR=spy, CDS_ALLOWED_FHIR_SERVERS="https://FHIR.ok.org/r4/")
    body = hook_request(prefetch=full_prefetch(), fhir_server="https://fhir.ok.org/r4", token="t")
    assert client.post(PV, json=body).status_code == 200
    assert spy.calls[0]["fhir_client"].base_url == "https://fhir.ok.org/r4"


def test_one_json_log_line_per_request_without_tokens(spied, caplog):
    client, _ = spied
    caplog.set_level(logging.INFO, logger="cds_service")
    body = hook_request(prefetch=full_prefetch())
    client.post(PV, json=body, headers={"Authorization": "Bearer sekrit-jwt"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "cds_service.requests"]
    assert len(lines) == 1
    line = lines[0]
    assert line["service"] == "omalizumab-patient-view" and line["hook"] == "patient-view"
    assert line["status"] == 200 and line["cards"] == 0 and line["duration_ms"] >= 0
    assert "sekrit" not in caplog.text and "Patient" not in json.dumps(line)


def test_hook_evaluated_signal_carries_status_and_cards(spied):
    from cds_service.signals import hook_evaluated

    client, _ = spied
    seen = []

    def receiver(sender, **kw):
        seen.append(kw)

    hook_evaluated.connect(receiver)
    try:
        client.post(PV, json=hook_request(prefetch=full_prefetch()))
        client.post(PV, json={"hook": "patient-view"})
        client.post("/cds-services/" + "x" * 50, json={})
    finally:
        hook_evaluated.disconnect(receiver)
    assert [s["status"] for s in seen] == [200, 400, 404]
    assert seen[2]["service"] == "unknown"  # a client cannot mint metrics labels
    assert seen[0]["service"] == "omalizumab-patient-view" and seen[0]["hook"] == "patient-view"
    assert seen[0]["cards"] == [] and seen[0]["duration_s"] >= 0


def test_html_pages_get_a_restrictive_csp(app):
    from flask import Response

    app.add_url_rule("/_test_html", "test_html", lambda: Response("<p>x</p>", mimetype="text/html"))
    resp = app.test_client().get("/_test_html")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_a_defect_in_a_clinical_layer_is_a_422_not_a_500_and_is_logged_without_data(make_client, caplog):
    def broken(body, **_):
        raise ArithmeticError("weight 1e300 kg for patient p1")  # message quotes data

    caplog.set_level(logging.INFO, logger="cds_service")
    client = make_client(CDS_EVALUATOR=broken)
    body = hook_request(prefetch=full_prefetch())
    resp = client.post(PV, json=body)
    assert resp.status_code == 422 and body["hookInstance"] in " ".join(resp.get_json()["details"])
    assert "Traceback" not in resp.get_data(as_text=True)
    assert "evaluation_failed" in caplog.text and "ArithmeticError" in caplog.text
    assert "1e300" not in caplog.text


def test_numbers_beyond_the_double_range_are_400(spied):
    client, spy = spied
    raw = json.dumps(hook_request(prefetch=full_prefetch())).replace('"p1"}', '"p1", "x": 1e999}', 1)
    assert "1e999" in raw
    resp = client.post(PV, data=raw, content_type="application/json")
    assert resp.status_code == 400 and "out of range" in " ".join(resp.get_json()["details"])
    assert spy.calls == []
