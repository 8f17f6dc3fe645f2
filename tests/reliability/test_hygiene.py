"""Hygiene (issue 8, item 7): what leaves the service, in responses and in logs.

- No stack trace, exception text or internal path in any response, including a real internal error.
- Logs (every logger, every level, plus stderr) of a run that used a bearer JWT, a FHIR access token
  and a recognisable patient carry neither token nor name, birth date or lab values (ids are allowed).
- Security headers on the demo page and on API answers; request size and JSON depth limits.
"""
from __future__ import annotations

import json
import logging
import uuid

import pytest

from rel_jwt import PUBLIC_BASE, IssuerKit, SigningKey, bearer, write_issuers
from rel_requests import (CHART, PATIENT, SECRET_BIRTHDATE, SECRET_FAMILY, SECRET_GIVEN, SECRET_IGE, SECRET_WEIGHT,
                          feedback_body, full_prefetch, hook_request)

PV = "/cds-services/omalizumab-patient-view"
FB = PV + "/feedback"


def _app(tmp_path, **config):
    from cds_service.app import create_app

    base = {"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/hyg-{uuid.uuid4().hex[:6]}.sqlite3",
            "CDS_CLOCK": "2025-06-01"}
    base.update(config)
    app = create_app(base)
    return app


# -- responses -------------------------------------------------------------------------------------------
SECRET_ERROR = "secret-detail /srv/internal/path.py password=hunter2 " + SECRET_FAMILY


def _assert_reveals_nothing(resp):
    assert resp.is_json and set(resp.get_json()) <= {"error", "details"}
    text = resp.get_data(as_text=True)
    for leak in ("secret-detail", "hunter2", SECRET_FAMILY, "Traceback", "RuntimeError", ".py", "line "):
        assert leak not in text, leak


def test_clinical_layer_failure_reveals_nothing(tmp_path, caplog):
    """An exception while evaluating (the service answers it as a JSON error, 422 today): no message,
    type, path or patient data in the response, and none of the exception's message in the logs."""
    def broken(body, **_):
        raise RuntimeError(SECRET_ERROR)

    app = _app(tmp_path, CDS_EVALUATOR=broken)
    with caplog.at_level(logging.DEBUG):
        resp = app.test_client().post(PV, json=hook_request(prefetch=full_prefetch()))
    assert resp.status_code in (422, 500)
    _assert_reveals_nothing(resp)
    logs = "\n".join(r.getMessage() + str(r.exc_text or "") for r in caplog.records)
    assert SECRET_FAMILY not in logs and "hunter2" not in logs


def test_unexpected_server_error_reveals_nothing(tmp_path, monkeypatch):
    """A bug outside the clinical layers (here: discovery) is a 500 with a fixed body."""
    from cds_service import services

    def broken():
        raise RuntimeError(SECRET_ERROR)

    monkeypatch.setattr(services, "discovery_document", broken)
    resp = _app(tmp_path).test_client().get("/cds-services")
    assert resp.status_code == 500 and resp.get_json() == {"error": "internal error"}
    _assert_reveals_nothing(resp)


@pytest.mark.parametrize("method,path,kwargs,status", [
    ("get", "/no/such/page", {}, 404),
    ("delete", "/cds-services", {}, 405),
    ("get", PV, {}, 405),
    ("post", PV, {"data": "{}", "content_type": "text/plain"}, 415),
    ("post", PV, {"data": "{not json", "content_type": "application/json"}, 400),
    ("post", "/cds-services/unknown-service", {"json": {}}, 404),
    ("post", FB, {"json": {"feedback": "x"}}, 400),
])
def test_error_responses_are_small_json(tmp_path, method, path, kwargs, status):
    resp = getattr(_app(tmp_path).test_client(), method)(path, **kwargs)
    assert resp.status_code == status
    assert resp.is_json and isinstance(resp.get_json().get("error"), str)
    text = resp.get_data(as_text=True)
    assert "<html" not in text.lower() and "Traceback" not in text and "werkzeug" not in text.lower()


def test_request_size_limit(tmp_path, figures):
    app = _app(tmp_path, CDS_MAX_BODY_BYTES="65536")
    client = app.test_client()
    big = hook_request(prefetch=full_prefetch())
    big["extension"] = {"org.example.pad": "x" * 70_000}
    for path in (PV, FB):
        resp = client.post(path, data=json.dumps(big), content_type="application/json")
        assert resp.status_code == 413 and resp.is_json
    figures.add("limit_checks", 2)


@pytest.mark.parametrize("depth", [65, 200, 5000, 100_000])
def test_json_depth_limit(tmp_path, depth):
    client = _app(tmp_path).test_client()
    raw = '{"hook": "patient-view", "extension": {"x": ' + "[" * depth + "]" * depth + "}}"
    for path in (PV, FB):
        resp = client.post(path, data=raw, content_type="application/json")
        assert resp.status_code in (400, 413), resp.status_code
        assert resp.is_json and "Traceback" not in resp.get_data(as_text=True)


def test_depth_just_inside_the_limit_is_accepted(tmp_path):
    client = _app(tmp_path).test_client()
    body = hook_request(prefetch=full_prefetch())
    nested: object = 1
    for _ in range(50):
        nested = [nested]
    body["extension"] = {"org.example.deep": nested}
    assert client.post(PV, json=body).status_code == 200


def test_api_security_headers(tmp_path):
    resp = _app(tmp_path).test_client().get("/cds-services")
    h = resp.headers
    assert h["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in h.get("Cache-Control", "")
    assert "default-src 'none'" in h.get("Content-Security-Policy", "")
    assert "Server" not in h or "Python" not in h["Server"]


def test_demo_page_security_headers(tmp_path):
    app = _app(tmp_path, CDS_DEMO="1")
    resp = app.test_client().get("/")
    if resp.status_code == 404:
        pytest.fail("demo page not served at / with CDS_DEMO=1")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    h = resp.headers
    csp = h.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[-1].split(";")[0]
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h.get("X-Frame-Options") == "DENY"
    assert h.get("Referrer-Policy") == "no-referrer"


def test_production_cors_is_not_open(tmp_path):
    keys = SigningKey.ec("cors-ec")
    issuers, _ = write_issuers(tmp_path, ec_key=keys, rsa_key=SigningKey.rsa("cors-rsa"), fhir_servers=[])
    app = _app(tmp_path, CDS_AUTH="jwt", CDS_TRUSTED_ISSUERS=str(issuers), CDS_PUBLIC_BASE_URL=PUBLIC_BASE)
    resp = app.test_client().options(PV, headers={"Origin": "https://evil.example",
                                                  "Access-Control-Request-Method": "POST"})
    assert resp.headers.get("Access-Control-Allow-Origin") in (None, "")


# -- logs ----------------------------------------------------------------------------------------------
@pytest.fixture
def kit(tmp_path, fault_server):
    ec_key, rsa_key = SigningKey.ec("hyg-ec"), SigningKey.rsa("hyg-rsa")
    issuers, jwks_path = write_issuers(tmp_path, ec_key=ec_key, rsa_key=rsa_key, fhir_servers=[fault_server.url])
    return IssuerKit(ec_key, rsa_key, SigningKey.ec("hyg-stranger"), issuers, jwks_path)


def test_logs_carry_no_tokens_and_no_patient_data(tmp_path, kit, fault_server, caplog, capfd, figures):
    """A busy session: good calls, FHIR faults, auth failures, bad input, feedback. Then read every log."""
    fault_server.chart = CHART
    app = _app(tmp_path, CDS_AUTH="jwt", CDS_TRUSTED_ISSUERS=str(kit.issuers_path), CDS_PUBLIC_BASE_URL=PUBLIC_BASE,
               CDS_FHIR_BUDGET_SECONDS="1.0", CDS_LOG_LEVEL="DEBUG")
    client = app.test_client()
    fhir_token = "fhirtok-" + uuid.uuid4().hex
    used_tokens = [fhir_token]

    def tok(path, **kw):
        t = kit.token(path, **kw)
        used_tokens.append(t)
        return bearer(t)

    caplog.set_level(logging.DEBUG)
    statuses = []
    # 1. full prefetch, 2. fetch from the FHIR server, 3. FHIR faults, 4. a Patient read that fails
    statuses.append(client.post(PV, json=hook_request(prefetch=full_prefetch()), headers=tok(PV)).status_code)
    statuses.append(client.post(PV, json=hook_request(prefetch={"patient": PATIENT}, fhir_server=fault_server.url,
                                                      fhir_token=fhir_token), headers=tok(PV)).status_code)
    for mode in ("500", "malformed", "reset", "redirect-offhost"):
        fault_server.set_mode(mode)
        statuses.append(client.post(PV, json=hook_request(prefetch={"patient": PATIENT}, fhir_server=fault_server.url,
                                                          fhir_token=fhir_token), headers=tok(PV)).status_code)
    statuses.append(client.post(PV, json=hook_request(fhir_server=fault_server.url, fhir_token=fhir_token),
                                headers=tok(PV)).status_code)
    fault_server.set_mode("ok")
    # 5. auth failures with real tokens in the wrong place / for the wrong audience
    statuses.append(client.post(PV, json=hook_request(prefetch=full_prefetch()), headers=tok(FB)).status_code)
    statuses.append(client.post(PV, json=hook_request(prefetch=full_prefetch()),
                                headers={"X-Token": kit.token(PV)}).status_code)
    # 6. bad input carrying patient data, 7. another patient's data, 8. feedback with a comment
    bad = hook_request(prefetch=full_prefetch())
    bad["hookInstance"] = SECRET_FAMILY
    statuses.append(client.post(PV, json=bad, headers=tok(PV)).status_code)
    other = hook_request(prefetch=full_prefetch(), patient_id="someone-else")
    statuses.append(client.post(PV, json=other, headers=tok(PV)).status_code)
    fb = feedback_body()
    statuses.append(client.post(FB, json=fb, headers=tok(FB)).status_code)
    assert statuses[:2] == [200, 200] and 412 in statuses and 401 in statuses and 400 in statuses
    figures.add("log_hygiene_requests", len(statuses))

    out, err = capfd.readouterr()
    logs = "\n".join(r.getMessage() + " " + str(r.exc_text or "") for r in caplog.records) + out + err
    assert logs.strip(), "no logs captured"
    assert any(json.loads(r.getMessage()).get("event") == "request" for r in caplog.records
               if r.name == "cds_service.requests")
    for t in used_tokens:
        assert t not in logs, "a token is in the logs"
        if t.count(".") == 2:  # nor a recognisable part of a JWT (its signature, its claims)
            assert t.split(".")[2] not in logs and t.split(".")[1][:24] not in logs
    assert "eyJ" not in logs  # no JWT fragment of any kind
    for secret in (SECRET_FAMILY, SECRET_GIVEN, SECRET_BIRTHDATE, str(SECRET_IGE), str(SECRET_WEIGHT)):
        assert secret not in logs, f"patient data {secret!r} is in the logs"
