"""Driving the Sandbox as a tester does, and recording what it exchanged with the service.

Every POST the browser makes to `{base}/cds-services/...` is kept with its response (the service's
actual answer: the ground truth the rendered cards are compared with); every request to a host that
is not loopback is kept too (the Sandbox's built-in internet defaults).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sbx_cards import RENDERED_CARDS_JS

CARD_SELECTOR = 'div[class*="card-list__decision-card"]'
NO_CARDS_TEXT = "No recommendations to display"


class SandboxFailed(AssertionError):
    """The Sandbox did not get (or did not show) the service's cards."""


@dataclass
class Exchange:
    url: str
    request: dict
    status: int
    body: Any


@dataclass
class SandboxTab:
    context: Any
    base: str
    page: Any = None
    external: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    fhir_calls: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, content-type)

    def __post_init__(self) -> None:
        self.page = self.context.new_page()
        self.page.on("request", self._on_request)
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.method} {r.url}: {r.failure}"))
        self.page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.console_errors.append(f"page error: {e}"))

    def _on_request(self, request) -> None:
        host = urlsplit(request.url).hostname
        if host not in ("127.0.0.1", "localhost"):
            self.external.append(request.url)
        if request.url.startswith(self.base + "/demo/fhir"):
            self.fhir_calls.append((request.method, urlsplit(request.url).path[len("/demo/fhir"):],
                                    request.headers.get("content-type", "")))

    # -- actions ---------------------------------------------------------------------------------
    def service_call(self, action, service_path: str, timeout: float = 20_000, match=None) -> Exchange:
        """Run `action` and return the browser's POST to `{base}{service_path}` with its answer
        (the first whose request JSON satisfies `match`, when given)."""
        url = self.base + service_path

        def wanted(response) -> bool:
            if response.url != url or response.request.method != "POST":
                return False
            return match is None or match(json.loads(response.request.post_data or "{}"))

        try:
            with self.page.expect_response(wanted, timeout=timeout) as info:
                action()
        except Exception as exc:  # playwright TimeoutError
            raise SandboxFailed(f"the Sandbox never got an answer from {service_path} ({type(exc).__name__}); "
                                f"failed requests: {self.failed[-6:]}; console errors: {self.console_errors[-6:]}") from None
        response = info.value
        try:
            body = response.json()
        except Exception:  # noqa: BLE001 - a non-JSON answer is itself the finding
            body = response.text()
        return Exchange(url, json.loads(response.request.post_data or "{}"), response.status, body)

    def open(self, url: str, service_path: str) -> Exchange:
        return self.service_call(lambda: self.page.goto(url), service_path)

    def wait_rendered(self, count: int, timeout: float = 15_000) -> list[dict]:
        """Wait until the Sandbox shows `count` cards (or its empty state for 0); return them."""
        try:
            if count:
                self.page.wait_for_function(
                    "([sel, n]) => document.querySelectorAll(sel).length === n", arg=[CARD_SELECTOR, count],
                    timeout=timeout)
            else:
                self.page.get_by_text(NO_CARDS_TEXT).wait_for(timeout=timeout)
        except Exception as exc:  # noqa: BLE001
            shown = self.rendered()
            raise SandboxFailed(f"expected {count} card(s) on screen, the Sandbox shows {len(shown)} "
                                f"({type(exc).__name__})") from None
        return self.rendered()

    def rendered(self) -> list[dict]:
        return self.page.evaluate(RENDERED_CARDS_JS)

    def card(self, index: int):
        return self.page.locator(CARD_SELECTOR).nth(index)

    def feedback(self, action, service_id: str) -> Exchange:
        return self.service_call(action, f"/cds-services/{service_id}/feedback")

    def screenshot(self, path) -> None:
        self.page.screenshot(path=str(path), full_page=True)
