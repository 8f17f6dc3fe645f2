"""CORS for browser clients such as the CDS Hooks Sandbox (CDS Hooks 2.0, Cross-Origin Resource
Sharing): preflights on discovery, service and feedback URLs, `Authorization` and `Content-Type`
allowed.  Origins: CDS_CORS_ORIGINS (an allowlist in production; `*` by default in demo/auth-off).
"""
from __future__ import annotations

from flask import Flask
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
    }
    CORS(app, resources={r"/cds-services": options, r"/cds-services/*": options})
