"""The Sandbox checks fail when they should: a card that renders wrongly, a broken CORS answer, and a
Sandbox build signing with another key (401, and the service fetches no JWKS).
"""
from __future__ import annotations

import copy
import re

import pytest
import requests

from sbx_stack import ARTIFACTS, start_stack, stop_stack
from demo.sandbox import sandbox_url
from sbx_bundle import bundle_with_key, new_p384_pem_js
from sbx_cards import _SEPARATOR, card_mismatches
from sbx_driver import SandboxFailed, SandboxTab

pytestmark = pytest.mark.browser

PV = "/cds-services/omalizumab-patient-view"
CKD = "demo-csu-ckd-hypertension"
_CLEAN_PAIR: list = []  # (the service's cards, the Sandbox's rendering) of one untampered load


def _tampered(cards: list[dict], how: str) -> list[dict]:
    cards = copy.deepcopy(cards)
    first = cards[0]
    if how == "summary":
        first["summary"] += " (changed)"
    elif how == "indicator":
        first["indicator"] = "info" if first["indicator"] != "info" else "critical"
    elif how == "table cell":
        first["detail"] = re.sub(r"(\n\|[^|\n]+\|)([^|\n]+)", r"\1 tampered ", first["detail"], count=1)
    elif how == "detail text":
        first["detail"] += "\n\nA paragraph the Sandbox never showed."
    elif how == "suggestion":
        card = next(c for c in cards if c.get("suggestions"))
        card["suggestions"][0]["label"] += " now"
    elif how == "link":
        card = next(c for c in cards if c.get("links"))
        card["links"][0]["label"] = "Another link"
    elif how == "source url":
        first["source"]["url"] = "https://example.org/other"
    elif how == "missing card":
        cards.append(copy.deepcopy(first))
    return cards


@pytest.mark.parametrize("how", ["summary", "indicator", "table cell", "detail text", "suggestion", "link",
                                 "source url", "missing card"])
def test_the_check_finds_a_card_that_differs_from_the_rendering(context, stack, how):
    """Compare the real rendering with a tampered copy of the service's answer: always a mismatch."""
    if not _CLEAN_PAIR:
        tab = SandboxTab(context, stack.base)
        exchange = tab.open(sandbox_url(stack.sandbox, stack.base, CKD), PV)
        rendered = tab.wait_rendered(len(exchange.body["cards"]))
        assert card_mismatches(exchange.body["cards"], rendered) == []  # the untampered pair matches
        _CLEAN_PAIR.extend([exchange.body["cards"], rendered])
    cards, rendered = _CLEAN_PAIR
    assert card_mismatches(_tampered(cards, how), rendered) != []


def test_a_card_whose_table_breaks_in_the_sandbox_is_detected(context, stack):
    """The browser gets a card whose markdown table lost its separator row (so it renders as text);
    compared with what the service really answered, the check reports it."""
    original: list[dict] = []

    def break_table(route):
        if route.request.method != "POST":
            return route.continue_()
        response = route.fetch()
        body = response.json()
        original.append(copy.deepcopy(body))
        card = body["cards"][0]
        card["detail"] = "\n".join(line for line in card["detail"].splitlines() if not _SEPARATOR.match(line))
        route.fulfill(response=response, json=body)

    context.route(stack.base + PV, break_table)
    tab = SandboxTab(context, stack.base)
    exchange = tab.open(sandbox_url(stack.sandbox, stack.base, CKD), PV)
    rendered = tab.wait_rendered(len(exchange.body["cards"]))
    tab.screenshot(ARTIFACTS / "broken-card-table-as-text.png")
    problems = card_mismatches(original[0]["cards"], rendered)
    assert any("detail tables rendered" in p for p in problems), problems
    assert card_mismatches(exchange.body["cards"], rendered) != []  # raw pipes are reported as well


def test_a_broken_cors_answer_leaves_the_sandbox_without_cards(context, sandbox_dir, tmp_path):
    """A service whose CORS allowlist lacks the Sandbox's origin: the preflight answer has no
    Access-Control-Allow-Origin, the browser blocks discovery, the Sandbox shows no cards, and the
    driver reports the failure instead of passing."""
    broken = start_stack(tmp_path, sandbox_dir, CDS_CORS_ORIGINS="http://127.0.0.1:9")
    try:
        preflight = requests.options(broken.base + "/cds-services", timeout=5, headers={
            "Origin": broken.sandbox, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        assert "Access-Control-Allow-Origin" not in preflight.headers
        tab = SandboxTab(context, broken.base)
        with pytest.raises(SandboxFailed):
            tab.service_call(lambda: tab.page.goto(sandbox_url(broken.sandbox, broken.base, CKD)), PV, timeout=6_000)
        assert tab.rendered() == []
        assert any(f.startswith(f"GET {broken.base}/cds-services") for f in tab.failed), tab.failed
        assert any("CORS" in e or "Access-Control" in e for e in tab.console_errors), tab.console_errors
        tab.screenshot(ARTIFACTS / "broken-cors-no-cards.png")
        assert '"method":"GET","path":"/cds-services"' not in broken.log()  # discovery never got through
    finally:
        stop_stack(broken.proc)


def test_the_allowed_origin_gets_a_complete_preflight_answer(stack):
    for path in ("/cds-services", "/cds-services/omalizumab-patient-view",
                 "/cds-services/omalizumab-order-select/feedback"):
        resp = requests.options(stack.base + path, timeout=5, headers={
            "Origin": stack.sandbox, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        assert resp.status_code == 200, path
        assert resp.headers["Access-Control-Allow-Origin"] == stack.sandbox
        allowed = {h.strip().lower() for h in resp.headers["Access-Control-Allow-Headers"].split(",")}
        assert {"authorization", "content-type"} <= allowed
        assert "POST" in resp.headers["Access-Control-Allow-Methods"]


def test_a_sandbox_build_signing_with_another_key_gets_401(context, stack, sandbox_dir):
    """The same bundle with its embedded key swapped (same kid, same internet jku): the service
    answers 401 to its discovery call, shows it no services, and fetches no JWKS."""
    body = bundle_with_key(sandbox_dir, new_p384_pem_js())
    context.route(stack.sandbox + "/app.bundle.js",
                  lambda route: route.fulfill(status=200, body=body, content_type="application/javascript"))
    tab = SandboxTab(context, stack.base)
    mark = len(stack.log())

    def discovery(response) -> bool:
        return response.url == stack.base + "/cds-services" and response.request.method == "GET"

    with tab.page.expect_response(discovery) as info:
        tab.page.goto(sandbox_url(stack.sandbox, stack.base, CKD))
    assert info.value.status == 401
    tab.page.wait_for_timeout(1500)
    assert tab.rendered() == []
    tab.screenshot(ARTIFACTS / "other-key-401.png")
    refusals = stack.events("auth_failed", mark)
    assert refusals and all("InvalidSignature" in line for line in refusals), refusals
    assert stack.events("jwks_fetch") == []
    assert "eyJ" not in stack.log()  # never a token in the log
