"""A FHIR server that cannot be read degrades the answer and says so (data-unavailable), never a dose
computed from partial data."""
from __future__ import annotations

import pytest

from tests.e2e.hooks import CLOCK, actions, call, hook_request, patient_resources, regimen, the_card, topics

DEAD_FHIR = "http://127.0.0.1:9/fhir"  # nothing listens on the discard port: connection refused


@pytest.fixture(scope="module")
def client_with_dead_fhir(tmp_path_factory):
    from cds_service.app import create_app

    db = tmp_path_factory.mktemp("e2e-degraded") / "cds.sqlite3"
    app = create_app({"TESTING": True, "CDS_AUTH": "off", "CDS_CLOCK": CLOCK, "CDS_DEMO": "0",
                      "CDS_ALLOWED_FHIR_SERVERS": DEAD_FHIR, "CDS_ALLOW_OPEN_FHIR": "1",
                      "CDS_FHIR_BUDGET_SECONDS": "1.0", "CDS_DATABASE_URL": f"sqlite:///{db}"})
    with app.test_client() as client:
        yield client


def test_missing_prefetch_and_unreachable_server_give_a_partial_answer(client_with_dead_fhir):
    request = hook_request("patient-view", patient_resources("allergic-asthma-adult"))
    for key in ("totalIge", "weight"):
        request["prefetch"].pop(key)
    request["fhirServer"] = DEAD_FHIR
    cards = call(client_with_dead_fhir, request)
    card = the_card(cards, "data-unavailable")
    assert card["indicator"] == "warning" and card["overrideReasons"]
    text = (card["summary"] + card["detail"]).lower()
    assert "ige" in text and "weight" in text
    assert "omalizumab-dose" not in topics(cards)
    assert not [a for c in cards for a in actions(c, "create") if regimen(a["resource"])["rxnorm"] == "302379"]
