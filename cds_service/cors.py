"""CORS for browser clients such as the CDS Hooks Sandbox (CDS Hooks 2.0, Cross-Origin Resource
Sharing): preflights on discovery, service and feedback URLs, `Authorization` and `Content-Type`
allowed.  Origins: CDS_CORS_ORIGINS (an allowlist in production; `*` by default in demo/auth-off).

flask-cors does the work.  A request without an `Origin` header is outside CORS ("If the Origin
header is not present terminate this set of steps", the W3C text flask-cors cites): browsers send
one on every cross-origin request, EHR back ends do not.  Such requests get no CORS headers
(`always_send` off) and skip flask-cors's after-request work altogether, which cost ~3% of a hook
call measured in-process (a path match, a header walk and a debug string built on every response).
"""
from __future__ import annotations

from flask import Flask, request
from flask_cors import CORS

from .settings import Settings


def init_app(app: Flask, settings: Settings) -> None:
    origins = list(settings.cors_origins)
    options = {
        "origins": origins or [],
        "methods": ["GET", "POST", "OPTIONS"],
        "allow_headers": ["Authorization", "Content-Type"],
        "expose_headers": ["Location", "Content-Location"],
        "max_age": 600,
        "supports_credentials": False,
        "allow_private_network": settings.demo,
        "always_send": False,
    }
    before = list(app.after_request_funcs.get(None, ()))
    CORS(app, resources={r"/cds-services": options, r"/cds-services/*": options})
    funcs = app.after_request_funcs.get(None, [])
    for i, func in enumerate(funcs):
        if func not in before:
            funcs[i] = _only_with_origin(func)


def _only_with_origin(after_request):
    """flask-cors's after-request function, run only when the request names an Origin."""
    def cors_if_origin(response):
        # the header, read without Headers' lookup machinery, on the real request (not the proxy's lookup)
        if not request._get_current_object().environ.get("HTTP_ORIGIN"):
            return response
        return after_request(response)

    cors_if_origin.__wrapped__ = after_request
    return cors_if_origin
