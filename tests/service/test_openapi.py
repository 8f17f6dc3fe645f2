"""The OpenAPI document (/openapi.json) describes the routes the app really has."""
import json
import re

from cds_service.openapi import document
from svc_helpers import PUBLIC_BASE, Key, write_issuers


def _flask_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_openapi_is_served_and_matches_the_static_file(client):
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    served = resp.get_json()
    assert served["openapi"].startswith("3.") and served["paths"].keys() == document()["paths"].keys()


def test_every_documented_operation_exists_in_the_app(app):
    rules = {}
    for rule in app.url_map.iter_rules():
        rules.setdefault(_flask_path(rule.rule), set()).update(rule.methods)
    for path, ops in document()["paths"].items():
        concrete = path
        matched = [p for p in rules if re.fullmatch(re.sub(r"\{\w+\}", r"[^/]+", p), concrete)
                   or p == concrete]
        assert matched, path
        for method in ops:
            assert any(method.upper() in rules[p] for p in matched), (path, method)


def test_every_cds_route_is_documented(app):
    documented = document()["paths"]
    for rule in app.url_map.iter_rules():
        path = _flask_path(rule.rule)
        if path.startswith("/cds-services") or path in ("/healthz", "/readyz", "/metrics"):
            if "{service_id}" in path:
                for sid in ("omalizumab-patient-view", "omalizumab-order-select", "omalizumab-order-review"):
                    assert path.replace("{service_id}", sid) in documented, path
            else:
                assert path in documented, path


def test_security_is_described_only_when_auth_is_on(client, make_client, tmp_path):
    off = client.get("/openapi.json").get_json()
    assert "securitySchemes" not in off.get("components", {})
    assert all("security" not in op for p in off["paths"].values() for op in p.values())
    issuers = write_issuers(tmp_path, [Key.ec384()])
    on = make_client(CDS_AUTH="jwt", CDS_TRUSTED_ISSUERS=str(issuers), CDS_PUBLIC_BASE_URL=PUBLIC_BASE)
    doc = on.get("/openapi.json").get_json()  # served without a token
    assert doc["components"]["securitySchemes"]["cdsJwt"]["bearerFormat"] == "JWT"
    assert doc["paths"]["/cds-services"]["get"]["security"] == [{"cdsJwt": []}]
