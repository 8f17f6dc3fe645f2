"""CdsFlask's remembered URL adapter and route match must route every request as Flask's own does.

Each environ is routed three ways: Flask's own `create_url_adapter` and `match` on a fresh request
(the reference), then twice through CdsFlask (the first call builds and remembers, the second reuses):
the rule, view args, routing exception, host and the adapter's bound values must agree each time.
"""
from __future__ import annotations

import io

import pytest
from flask import Flask
from werkzeug.exceptions import HTTPException

from cds_service.app import CdsFlask

PATHS = ["/cds-services", "/cds-services/", "/cds-services/omalizumab-patient-view",
         "/cds-services/omalizumab-patient-view/feedback", "/cds-services/nope", "/cds-services/a%20b",
         "/cds-services/omalizumab-order-sign/", "/healthz", "/healthz/", "/readyz", "/nowhere", "/",
         "/cds-services/\u00e9t\u00e9", "//cds-services", "/metrics"]
METHODS = ["GET", "POST", "OPTIONS", "HEAD", "PUT", "DELETE"]
HOSTS = [("127.0.0.1:8080", "http"), ("EHR.example.org", "https"), ("ehr.example.org:443", "https"),
         (None, "http"), ("[::1]:8080", "http")]


def _environ(method: str, path: str, host: str | None, scheme: str, query: str = "", script: str = "",
             upgrade: bool = False) -> dict:
    env = {"REQUEST_METHOD": method, "SCRIPT_NAME": script, "PATH_INFO": path.encode().decode("latin-1"),
           "QUERY_STRING": query, "SERVER_NAME": "10.0.0.5", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
           "wsgi.url_scheme": scheme, "wsgi.input": io.BytesIO(b""), "wsgi.errors": io.StringIO(),
           "CONTENT_LENGTH": "0"}
    if host is not None:
        env["HTTP_HOST"] = host
    if upgrade:
        env["HTTP_CONNECTION"] = "Upgrade"
        env["HTTP_UPGRADE"] = "websocket"
    return env


def _reference(app: CdsFlask, environ: dict):
    request = app.request_class(dict(environ))
    adapter = Flask.create_url_adapter(app, request)
    try:
        rule, args = adapter.match(return_rule=True)
        outcome = (rule, args, None)
    except HTTPException as exc:
        outcome = (None, None, (type(exc), getattr(exc, "new_url", None)))
    return outcome, request.host, _bound(adapter)


def _bound(adapter) -> tuple:
    return (adapter.server_name, adapter.script_name, adapter.subdomain, adapter.url_scheme, adapter.path_info,
            adapter.default_method, adapter.query_args, adapter.websocket)


def _routed(app: CdsFlask, environ: dict):
    ctx = app.request_context(dict(environ))
    ctx.match_request()
    req = ctx.request
    exc = req.routing_exception
    outcome = (req.url_rule, req.view_args, None if exc is None else (type(exc), getattr(exc, "new_url", None)))
    return outcome, req.host, _bound(ctx.url_adapter)


@pytest.fixture
def app(app_config):
    from cds_service import create_app

    return create_app(app_config)


def _cases():
    for method in METHODS:
        for path in PATHS:
            for host, scheme in HOSTS:
                yield _environ(method, path, host, scheme)
    for query in ("", "a=1", "next=/x&y=%2F"):
        yield _environ("GET", "/cds-services", "127.0.0.1:8080", "http", query=query)
    yield _environ("GET", "/cds-services", "127.0.0.1:8080", "http", script="/prefix")
    yield _environ("GET", "/cds-services", "127.0.0.1:8080", "http", upgrade=True)
    yield _environ("GET", "/cds-services/", "127.0.0.1:8080", "https", upgrade=True)


def test_every_target_routes_as_flask_routes_it_cold_and_remembered(app):
    checked = 0
    for environ in _cases():
        expected = _reference(app, environ)
        assert _routed(app, environ) == expected, environ
        assert _routed(app, environ) == expected, environ  # the remembered binding
        checked += 1
    assert checked > 400
    assert app._route_memo  # plain configuration: bindings were remembered


def test_view_args_are_a_fresh_dict_each_request(app):
    environ = _environ("POST", "/cds-services/omalizumab-patient-view", "127.0.0.1:8080", "http")
    first = app.request_context(dict(environ))
    first.match_request()
    first.request.view_args["service_id"] = "changed by a view"
    again = app.request_context(dict(environ))
    again.match_request()
    assert again.request.view_args == {"service_id": "omalizumab-patient-view"}


def test_refusals_are_not_remembered_as_matches(app):
    environ = _environ("GET", "/nowhere", "127.0.0.1:8080", "http")
    for _ in range(3):
        ctx = app.request_context(dict(environ))
        ctx.match_request()
        assert ctx.request.url_rule is None and ctx.request.routing_exception is not None
    route = next(r for k, r in app._route_memo.items() if "/nowhere" in k)
    assert route.view_args is None


def test_a_new_rule_forgets_the_bindings(app):
    environ = _environ("GET", "/late-rule", "127.0.0.1:8080", "http")
    app.request_context(dict(environ)).match_request()
    assert app._route_memo
    app.add_url_rule("/late-rule", "late", lambda: "late")
    assert not app._route_memo
    ctx = app.request_context(dict(environ))
    ctx.match_request()
    assert ctx.request.url_rule is not None and ctx.request.url_rule.rule == "/late-rule"


@pytest.mark.parametrize("config", [{"SERVER_NAME": "ehr.example.org"}, {"TRUSTED_HOSTS": ["127.0.0.1"]}])
def test_other_configurations_are_flask_every_time(app, config):
    app.config.update(config)
    environ = _environ("GET", "/cds-services", "127.0.0.1:8080", "http")
    for _ in range(2):
        ctx = app.request_context(dict(environ))
        ctx.match_request()
    assert not app._route_memo


def test_the_memo_is_bounded(app):
    for i in range(app._ROUTE_MEMO_MAX * 2 + 3):
        app.request_context(_environ("GET", f"/x{i}", "127.0.0.1:8080", "http")).match_request()
    assert 0 < len(app._route_memo) <= app._ROUTE_MEMO_MAX


def test_hook_calls_answer_through_the_remembered_route(client):
    from svc_helpers import PV, full_prefetch, hook_request  # noqa: PLC0415

    body = hook_request(prefetch=full_prefetch())
    answers = []
    for _ in range(3):
        resp = client.post(PV, json=body)
        assert resp.status_code == 200
        answers.append([card["summary"] for card in resp.get_json()["cards"]])
    assert answers[0] == answers[1] == answers[2]
    assert client.get(PV).status_code == 405
    assert client.post("/cds-services/nope", json=body).status_code == 404
