"""The Flask application factory: a plain list of registrations, nothing done at import time."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

from flask import Flask

from .settings import Settings

log = logging.getLogger("cds_service")


class CdsFlask(Flask):
    """Flask with `ensure_sync`'s answer remembered per function.

    Flask asks `ensure_sync` (Flask's documented override point) about every before/after-request
    function and view on every request; its `inspect.iscoroutinefunction` costs ~5,000 instructions
    a call, nine calls a hook request.  The functions asked about are the app's registered ones, so
    the memo stays small; a function registered per request (`after_this_request`) would only
    refill it, hence the bound.
    """

    _SYNC_MEMO_MAX = 512

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_memo: dict[Any, Any] = {}

    def ensure_sync(self, func):
        memo = self._sync_memo
        try:
            return memo[func]
        except (KeyError, TypeError):  # TypeError: an unhashable callable
            pass
        found = super().ensure_sync(func)
        try:
            if len(memo) >= self._SYNC_MEMO_MAX:
                memo.clear()
            memo[func] = found
        except TypeError:
            pass
        return found


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service.  `config` overrides the environment: keys are the CDS_* variable names
    (or Settings field names); `CDS_EVALUATOR` (a callable with pipeline.evaluate's signature) and
    other non-setting keys are kept in `settings.extra` for tests."""
    settings = Settings.from_env(overrides=config)
    app = CdsFlask("cds_service")
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
