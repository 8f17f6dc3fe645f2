"""One service for the end-to-end hook tests: auth off (loopback test client), the demo anchor date as
CDS_CLOCK, US tables, a throwaway SQLite database. No FHIR server: every request carries a complete
prefetch."""
from __future__ import annotations

import pytest

from tests.e2e.hooks import CLOCK


def client_for_region(tmp_path_factory, region: str):
    """A test client of the real app for one dosing region (US or EU), with its own throwaway database."""
    from cds_service.app import create_app

    db = tmp_path_factory.mktemp(f"e2e-{region.lower()}") / "cds.sqlite3"
    app = create_app({"TESTING": True, "CDS_AUTH": "off", "CDS_CLOCK": CLOCK, "CDS_REGION": region,
                      "CDS_DATABASE_URL": f"sqlite:///{db}", "CDS_DEMO": "0"})
    return app.test_client()


@pytest.fixture(scope="module")
def e2e_client(tmp_path_factory):
    with client_for_region(tmp_path_factory, "US") as client:
        yield client


@pytest.fixture(scope="module")
def eu_client(tmp_path_factory):
    with client_for_region(tmp_path_factory, "EU") as client:
        yield client
