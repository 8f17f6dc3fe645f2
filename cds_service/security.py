"""Security headers on every response (OWASP secure-headers baseline for a JSON API).

API responses are JSON and never cached.  HTML pages (the demo) get a restrictive CSP unless the
page's blueprint set its own.
"""
from __future__ import annotations

from flask import Flask

HTML_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def _headers(response):
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Cross-Origin-Resource-Policy", "cross-origin")
    if response.mimetype == "text/html":
        h.setdefault("Content-Security-Policy", HTML_CSP)
    else:
        h.setdefault("Content-Security-Policy", API_CSP)
        h.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.after_request(_headers)
