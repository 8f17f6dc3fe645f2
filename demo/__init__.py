"""Demo mode: synthetic patients, a read-only demo FHIR server at /demo/fhir and an EHR-sidebar page at /.

`init_app(app)` is called by `cds_service.create_app` when CDS_DEMO is on; nothing here runs at import
time. The page calls the service's real hook and feedback endpoints: there is no separate code path.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the demo FHIR server and the sidebar page on `app` (demo mode only)."""
    from .fhir_server import bp as fhir_bp
    from .page import bp as page_bp

    app.register_blueprint(fhir_bp)
    app.register_blueprint(page_bp)
