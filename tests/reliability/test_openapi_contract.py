"""The OpenAPI document against the live app (issue 8, item 1): schemathesis, in process (WSGI).

The document is the one the app serves at /openapi.json.  Every operation is exercised with
generated requests (valid and invalid ones), each carrying a fresh, honest JWT for exactly the
endpoint called, so the checks reach the views and not only the 401 path.  Checks: no 5xx, status
code documented, content type documented, body conforms to the documented schema, and documented
response headers present.  A second run with auth off (the local demo set-up) covers the demo paths.
"""
from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_headers_conformance,
                                 response_schema_conformance, status_code_conformance)

import rel_demo
from rel_env import examples
from rel_jwt import PUBLIC_BASE, SigningKey, bearer, claims, ISSUER, write_issuers

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture(scope="module")
def contract_key():
    return SigningKey.ec("contract-ec")


@pytest.fixture(scope="module")
def contract_app(tmp_path_factory, contract_key):
    from cds_service.app import create_app

    d = tmp_path_factory.mktemp("contract")
    issuers, _ = write_issuers(d, ec_key=contract_key, rsa_key=SigningKey.rsa("contract-rsa"),
                               fhir_servers=["http://127.0.0.1:1/fhir"])
    app = create_app({"CDS_AUTH": "jwt", "CDS_TRUSTED_ISSUERS": str(issuers), "CDS_PUBLIC_BASE_URL": PUBLIC_BASE,
                      "CDS_DATABASE_URL": f"sqlite:///{d}/contract.sqlite3", "CDS_CLOCK": rel_demo.CLOCK,
                      "CDS_FHIR_BUDGET_SECONDS": "0.3"})
    return app


@pytest.fixture(scope="module")
def api_schema(contract_app):
    return schemathesis.openapi.from_wsgi("/openapi.json", contract_app)


def _labels() -> list:
    """(generation mode, operation label) pairs from the packaged document (read, not executed).
    Negative (invalid) data only where there is something to make invalid: a body or parameters."""
    import json
    from pathlib import Path

    doc = json.loads((Path(__file__).resolve().parents[2] / "cds_service" / "openapi.json").read_text())
    out = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            label = f"{method.upper()} {path}"
            out.append(pytest.param(schemathesis.GenerationMode.POSITIVE, label, id=f"positive-{label}"))
            if op.get("requestBody") or op.get("parameters") or ops.get("parameters"):
                out.append(pytest.param(schemathesis.GenerationMode.NEGATIVE, label, id=f"negative-{label}"))
    return out


# schemathesis' own pytest integration (schema.parametrize / from_fixture) does not run under pytest 9,
# so each operation's case strategy is driven with hypothesis directly; the checks are the same.
@pytest.mark.parametrize("mode,label", _labels())
def test_api_conforms_to_openapi(api_schema, contract_key, figures, label, mode):
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label
    seen: list[int] = []

    @settings(max_examples=examples(10, 100), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        token = contract_key.sign(claims(iss=ISSUER, aud=PUBLIC_BASE + case.formatted_path, jti=uuid.uuid4().hex))
        headers = dict(case.headers or {})
        headers.update(bearer(token))
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        seen.append(response.status_code)
        figures.add("schemathesis_cases")

    run()
    assert seen, f"no case generated for {label}"
    figures.note(f"schemathesis_statuses {mode.value} {label}", sorted(set(seen)))


def _demo_cases():
    try:
        return [pytest.param(sid, req, id=label) for label, sid, req in rel_demo.all_requests()]
    except Exception as exc:  # noqa: BLE001 - the demo package is another helper's; say so clearly
        return [pytest.param(None, None, id="demo-unavailable",
                             marks=pytest.mark.skip(reason=f"demo patients not loadable: {exc}"))]


@pytest.mark.parametrize("service_id,request_body", _demo_cases())
def test_real_answers_conform_to_openapi(api_schema, contract_key, figures, service_id, request_body):
    """Generated requests rarely reach a rich answer; every demo patient in every hook does: their
    cards (suggestions, actions, override reasons, links) and the feedback on them must match the
    document too."""
    path = f"/cds-services/{service_id}"
    op = api_schema.find_operation_by_label(f"POST {path}")
    token = contract_key.sign(claims(iss=ISSUER, aud=PUBLIC_BASE + path))
    case = op.Case(body=request_body, media_type="application/json", headers=bearer(token))
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code == 200, response.text[:500]
    cards = response.json()["cards"]
    figures.add("schemathesis_demo_answers")
    if not cards:
        return
    card = cards[0]
    fb = {"feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-01T10:00:00Z",
                        "overrideReason": {"userComment": "contract check"}}]}
    sug = next((s for c in cards for s in c.get("suggestions", []) if s.get("uuid")), None)
    if sug is not None:
        fb["feedback"].append({"card": next(c["uuid"] for c in cards if sug in c.get("suggestions", [])),
                               "outcome": "accepted", "acceptedSuggestions": [{"id": sug["uuid"]}],
                               "outcomeTimestamp": "2026-11-01T10:00:01Z"})
    fop = api_schema.find_operation_by_label(f"POST {path}/feedback")
    token = contract_key.sign(claims(iss=ISSUER, aud=PUBLIC_BASE + path + "/feedback"))
    fresp = fop.Case(body=fb, media_type="application/json", headers=bearer(token)).call_and_validate(checks=CHECKS)
    assert fresp.status_code == 200 and "unknownCards" not in fresp.json()


def test_served_document_is_the_packaged_file(contract_app):
    import json
    from importlib import resources

    served = contract_app.test_client().get("/openapi.json")
    assert served.status_code == 200
    packaged = json.loads(resources.files("cds_service").joinpath("openapi.json").read_text("utf-8"))
    assert served.get_json() == packaged


def test_document_covers_every_route(contract_app):
    """Kept in sync with the code: every API route (with each service id) is documented, and every
    documented operation is routed."""
    import re

    from cds_service import services

    doc = contract_app.test_client().get("/openapi.json").get_json()
    documented = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops
                  if m in ("get", "post", "put", "delete", "patch")}
    routed = set()
    for rule in contract_app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/demo") or rule.rule == "/":
            continue
        paths = [rule.rule]
        if "<service_id>" in rule.rule:
            paths = [rule.rule.replace("<service_id>", sid) for sid in services.service_ids()]
        for path in paths:
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", path)
            for m in rule.methods - {"HEAD", "OPTIONS"}:
                routed.add((path, m))
    assert routed == documented, {"undocumented": routed - documented, "not routed": documented - routed}
