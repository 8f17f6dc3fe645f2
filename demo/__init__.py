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


def startup_banner(base_url: str, *, sandbox_url: str = "http://localhost:8081", auth_enabled: bool = False) -> str:
    """The URLs to open after `omalizumab-cds serve` in demo mode (printed by the serve command).

    `sandbox_url` is where a locally built CDS Hooks Sandbox is served (not on the service's port);
    the link pre-fills its FHIR server, discovery URL and a demo patient through its URL parameters.
    """
    from urllib.parse import quote

    base = base_url.rstrip("/")
    fhir, discovery = f"{base}/demo/fhir", f"{base}/cds-services"
    sandbox = (f"{sandbox_url.rstrip('/')}/?fhirServiceUrl={quote(fhir, safe='')}"
               f"&serviceDiscoveryURL={quote(discovery, safe='')}&patientId=demo-allergic-asthma-adult")
    return "\n".join([
        "omalizumab-cds demo (synthetic patients; " + ("EHR authentication ON (CDS_AUTH=jwt)):" if auth_enabled
                                                       else "EHR authentication OFF, loopback only):"),
        f"  EHR sidebar demo page : {base}/",
        f"  CDS Hooks discovery   : {discovery}",
        f"  demo FHIR server (R4) : {fhir}",
        f"  CDS Hooks Sandbox     : {sandbox}",
    ])
