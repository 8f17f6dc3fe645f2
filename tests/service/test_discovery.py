import re
from urllib.parse import parse_qsl, urlsplit

import fhir_mappings
from svc_helpers import ORDER, PV

ALLOWED_TOKENS = {"userPractitionerId", "userPractitionerRoleId", "userPatientId", "userRelatedPersonId"}
PRIMITIVE_CONTEXT = {"patientId", "userId", "encounterId"}
SUBSET_PARAMS = {"patient", "code", "clinical-status", "status", "_count", "_sort", "category", "date",
                 "verification-status", "intent"}


def test_discovery_lists_three_hooks_with_required_fields(client):
    resp = client.get("/cds-services")
    assert resp.status_code == 200
    services = resp.get_json()["services"]
    assert {s["hook"] for s in services} == {"patient-view", "order-select", "order-sign"}
    for s in services:
        for field in ("hook", "title", "description", "id", "usageRequirements", "prefetch"):
            assert isinstance(s[field], (str, dict)) and s[field], field
    ids = {s["hook"]: s["id"] for s in services}
    assert ids["order-sign"] == ORDER.rsplit("/", 1)[1]
    assert ids["order-select"] == "omalizumab-order-select"
    assert ids["patient-view"] == PV.rsplit("/", 1)[1]
    # one id per entry: clients such as the CDS Hooks Sandbox keep one service per URL
    assert len({s["id"] for s in services}) == len(services)


def test_order_review_still_answers_order_select_for_earlier_registrations(client):
    from cds_service import services

    assert services.hooks_for("omalizumab-order-review") == ("order-sign", "order-select")
    assert services.hooks_for("omalizumab-order-select") == ("order-select",)


def test_prefetch_comes_from_the_mappings_code_sets(client):
    services = client.get("/cds-services").get_json()["services"]
    for s in services:
        assert s["prefetch"] == fhir_mappings.prefetch_templates()
    keys = set(services[0]["prefetch"])
    assert {"patient", "totalIge", "eosinophils", "lte4", "weight", "egfr", "bloodPressure", "conditions",
            "medicationRequests", "allergies"} <= keys


def test_templates_use_only_legal_tokens_and_the_query_subset(client):
    templates = client.get("/cds-services").get_json()["services"][0]["prefetch"]
    for key, template in templates.items():
        for token in re.findall(r"\{\{(.*?)\}\}", template):
            token = token.strip()
            assert token in ALLOWED_TOKENS or (token.startswith("context.")
                                               and token.split(".", 1)[1] in PRIMITIVE_CONTEXT), (key, token)
        path, _, query = template.partition("?")
        assert re.fullmatch(r"[A-Z][A-Za-z]+(/\{\{context\.\w+\}\})?", path), template
        params = dict(parse_qsl(query))
        assert set(params) <= SUBSET_PARAMS, (key, params)
        if path == "Observation":
            assert params["_sort"] == "-date" and 0 < int(params["_count"]) <= 100
            assert all(c.startswith("http://loinc.org|") for c in params["code"].split(","))


def test_observation_templates_ask_for_the_model_loinc_codes(client):
    templates = client.get("/cds-services").get_json()["services"][0]["prefetch"]
    assert "19113-0" in templates["totalIge"]  # IgE [Units/volume] in Serum or Plasma
    assert "26449-9" in templates["eosinophils"] or "711-2" in templates["eosinophils"]
    assert "29463-7" in templates["weight"]  # body weight
    assert "85354-9" in templates["bloodPressure"]  # BP panel


def test_discovery_is_not_served_at_the_old_well_known_path(client):
    assert client.get("/.well-known/cds-services").status_code == 404
    assert urlsplit("/cds-services").path == "/cds-services"
