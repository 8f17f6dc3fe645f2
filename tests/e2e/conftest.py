"""One service for the end-to-end hook tests: auth off (loopback test client), the demo anchor date as
CDS_CLOCK, US tables, a throwaway SQLite database. No FHIR server: every request carries a complete
prefetch."""
from __future__ import annotations

import pytest

from tests.e2e.hooks import CLOCK


@pytest.fixture(scope="module")
def e2e_client(tmp_path_factory):
    from cds_service.app import create_app

    db = tmp_path_factory.mktemp("e2e") / "cds.sqlite3"
    app = create_app({"TESTING": True, "CDS_AUTH": "off", "CDS_CLOCK": CLOCK, "CDS_REGION": "US",
                      "CDS_DATABASE_URL": f"sqlite:///{db}", "CDS_DEMO": "0"})
    with app.test_client() as client:
        yield client
