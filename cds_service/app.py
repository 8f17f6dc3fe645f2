"""The Flask application factory: a plain list of registrations, nothing done at import time."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

from flask import Flask

from .settings import Settings

log = logging.getLogger("cds_service")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service.  `config` overrides the environment: keys are the CDS_* variable names
    (or Settings field names); `CDS_EVALUATOR` (a callable with pipeline.evaluate's signature) and
    other non-setting keys are kept in `settings.extra` for tests."""
    settings = Settings.from_env(overrides=config)
    app = Flask("cds_service")
    from .json_provider import FastJSONProvider

    app.json = FastJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["MAX_FORM_MEMORY_SIZE"] = settings.max_body_bytes
    app.json.sort_keys = False
    app.json.compact = True
    app.extensions["cds_settings"] = settings

    from . import api, auth, cors, db, errors, health, openapi, request_log, security

    request_log.configure_logging(settings.log_level)
    errors.register(app)
    request_log.init_app(app)
    security.init_app(app)
    cors.init_app(app, settings)
    _init_fhir_access(app, settings)
    db.init_app(app, settings)
    auth.init_app(app, settings)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    _init_metrics(app)
    if settings.demo:
        _init_demo(app)
    return app


def _init_fhir_access(app: Flask, settings: Settings) -> None:
    """One pooled Session and one thread pool per app for prefetch completion."""
    from .fhir_client import new_session

    app.extensions["cds_fhir_session"] = new_session(pool_size=max(16, settings.fhir_max_workers * 2))
    app.extensions["cds_fhir_executor"] = ThreadPoolExecutor(
        max_workers=settings.fhir_max_workers, thread_name_prefix="fhir-fetch")


def _init_metrics(app: Flask) -> None:
    from . import metrics

    metrics.init_app(app)


def _init_demo(app: Flask) -> None:
    """Demo page at `/` and the demo FHIR server at `/demo/fhir` (CDS_DEMO=1 only)."""
    import demo

    demo.init_app(app)
