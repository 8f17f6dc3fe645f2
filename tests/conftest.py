"""Shared fixtures: an app in local/test mode (no EHR auth, SQLite in tmp_path, fixed clock).

Layers' own tests may build apps with other settings through `create_app(config)`; `app_config`
is the baseline they can copy and change.
"""
from __future__ import annotations

import pytest

CLOCK = "2026-11-22"


@pytest.fixture
def app_config(tmp_path) -> dict:
    return {
        "CDS_AUTH": "off",
        "CDS_DEMO": "0",
        "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/cds-test.sqlite3",
        "CDS_CLOCK": CLOCK,
        "CDS_PUBLIC_BASE_URL": "http://127.0.0.1:8080",
    }


@pytest.fixture
def app(app_config):
    from cds_service import create_app

    application = create_app(app_config)
    application.testing = True
    yield application
    executor = application.extensions.get("cds_fhir_executor")
    if executor is not None:
        executor.shutdown(wait=False, cancel_futures=True)


@pytest.fixture
def client(app):
    return app.test_client()
