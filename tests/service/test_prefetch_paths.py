"""Prefetch completion through the HTTP layer: what is fetched from fhirServer, how, and what is
passed down to the mappings (recorded by `layer_spy`)."""
import json
import logging
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

import fhir_mappings
from svc_helpers import FHIR, PV, bundle, full_prefetch, hook_request, observation, patient

ALL_KEYS = set(fhir_mappings.prefetch_templates())


class FakeFhir:
    """Routes GETs under FHIR by resource type / LOINC code; records every call."""

    def __init__(self, rsps, *, status_for=None, error_for=None, pages=None):
        self.calls: list = []
        self.status_for = status_for or {}
        self.error_for = error_for or {}
        self.pages = pages or {}
        rsps.add_callback(responses.GET, re.compile(re.escape(FHIR) + r"/.*"), callback=self)

    def key_of(self, url: str) -> str:
        templates = fhir_mappings.prefetch_templates()
        parts = urlsplit(url)
        path = parts.path[len(urlsplit(FHIR).path) + 1:]
        if path.startswith("Patient/"):
            return "patient"
        query = parse_qs(parts.query)
        for key, template in templates.items():
            t_path, _, t_query = template.partition("?")
            if t_path == path and parse_qs(t_query).get("code") == query.get("code"):
                return key
        return "page" if "page" in query else path

    def __call__(self, request):
        key = self.key_of(request.url)
        self.calls.append((key, request))
        if key in self.error_for:
            raise self.error_for[key]
        if key in self.status_for:
            return self.status_for[key], {}, json.dumps({"resourceType": "OperationOutcome", "issue": []})
        if key == "patient":
            return 200, {}, json.dumps(patient())
        if key in self.pages:
            return 200, {}, json.dumps(self.pages[key])
        if key == "page":
            return 200, {}, json.dumps(bundle(observation("ige-old", "19113-0", 90, "[IU]/mL", "2024-01-01")))
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(bundle())

    def keys(self):
        return [k for k, _ in self.calls]


@pytest.fixture
def client(make_client):
    return make_client(CDS_ALLOWED_FHIR_SERVERS=FHIR)


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_complete_prefetch_fetches_nothing(client, layer_spy, rsps):
    fake = FakeFhir(rsps)
    prefetch = full_prefetch()
    resp = client.post(PV, json=hook_request(prefetch=prefetch, fhir_server=FHIR, token="tok"))
    assert resp.status_code == 200
    assert fake.calls == []
    assert layer_spy["data"] == prefetch and layer_spy["unavailable"] == ()
    assert layer_spy["patient_id"] == "p1" and str(layer_spy["evaluation_date"]) == "2026-11-22"


def test_absent_keys_are_fetched_in_parallel_with_the_bearer_token(client, layer_spy, rsps):
    fake = FakeFhir(rsps)
    resp = client.post(PV, json=hook_request(prefetch={"patient": patient()}, fhir_server=FHIR, token="tok-123"))
    assert resp.status_code == 200
    assert sorted(fake.keys()) == sorted(ALL_KEYS - {"patient"})
    for _, request in fake.calls:
        assert request.headers["Authorization"] == "Bearer tok-123"
        assert "fhir+json" in request.headers["Accept"]
        if "?" in request.url:  # searches name the patient as Patient/<id> (prefetch.qualify_patient_references)
            assert parse_qs(urlsplit(request.url).query)["patient"] == ["Patient/p1"]
    assert set(layer_spy["data"]) == ALL_KEYS and layer_spy["unavailable"] == ()
    assert layer_spy["data"]["totalIge"]["resourceType"] == "Bundle"


def test_operation_outcome_value_is_refetched(client, layer_spy, rsps):
    fake = FakeFhir(rsps)
    prefetch = full_prefetch()
    prefetch["egfr"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    prefetch["patient"] = {"resourceType": "OperationOutcome", "issue": []}
    client.post(PV, json=hook_request(prefetch=prefetch, fhir_server=FHIR, token="t"))
    assert sorted(fake.keys()) == ["egfr", "patient"]
    assert layer_spy["data"]["egfr"]["resourceType"] == "Bundle"
    assert layer_spy["data"]["patient"]["resourceType"] == "Patient"


def test_null_means_no_data_and_is_not_refetched(client, layer_spy, rsps):
    fake = FakeFhir(rsps)
    prefetch = full_prefetch()
    prefetch["lte4"] = None
    prefetch["allergies"] = None
    client.post(PV, json=hook_request(prefetch=prefetch, fhir_server=FHIR, token="t"))
    assert fake.calls == []
    assert layer_spy["data"]["lte4"] is None and layer_spy["data"]["allergies"] is None
    assert layer_spy["unavailable"] == ()


def test_fhir_500_on_optional_data_gives_a_partial_answer(client, layer_spy, rsps, caplog):
    caplog.set_level(logging.INFO, logger="cds_service")
    FakeFhir(rsps, status_for={"egfr": 500, "bloodPressure": 503})
    resp = client.post(PV, json=hook_request(prefetch={"patient": patient()}, fhir_server=FHIR, token="tok-xyz"))
    assert resp.status_code == 200
    assert set(layer_spy["unavailable"]) == {"egfr", "bloodPressure"}
    assert "egfr" not in layer_spy["data"]
    assert "tok-xyz" not in caplog.text


def test_fhir_timeout_on_optional_data_gives_a_partial_answer(client, layer_spy, rsps):
    FakeFhir(rsps, error_for={"weight": requests.exceptions.ReadTimeout("slow"),
                              "lte4": requests.exceptions.ConnectionError("refused")})
    resp = client.post(PV, json=hook_request(prefetch={"patient": patient()}, fhir_server=FHIR, token="t"))
    assert resp.status_code == 200
    assert set(layer_spy["unavailable"]) == {"weight", "lte4"}


def test_the_total_time_budget_bounds_a_slow_server(make_client, layer_spy, rsps):
    client = make_client(CDS_ALLOWED_FHIR_SERVERS=FHIR, CDS_FHIR_BUDGET_SECONDS="0.3")

    def slow(request):
        time.sleep(1.0)
        return 200, {}, json.dumps(bundle())

    rsps.add_callback(responses.GET, re.compile(re.escape(FHIR) + r"/Observation.*"), callback=slow)
    started = time.monotonic()
    resp = client.post(PV, json=hook_request(prefetch={"patient": patient(), "conditions": bundle(),
                                                       "medicationRequests": bundle(),
                                                       "medicationStatements": bundle(),
                                                       "allergies": bundle()},
                                             fhir_server=FHIR, token="t"))
    elapsed = time.monotonic() - started
    assert resp.status_code == 200
    assert elapsed < 0.9, elapsed
    assert {"totalIge", "egfr", "weight"} <= set(layer_spy["unavailable"])


def test_bundle_next_links_are_followed_and_merged(client, layer_spy, rsps):
    first = bundle(observation("ige-new", "19113-0", 250, "[IU]/mL"), next_url=f"{FHIR}/Observation?page=2")
    fake = FakeFhir(rsps, pages={"totalIge": first})
    client.post(PV, json=hook_request(prefetch={"patient": patient()}, fhir_server=FHIR, token="t"))
    assert fake.keys().count("page") == 1
    merged = layer_spy["data"]["totalIge"]
    assert [e["resource"]["id"] for e in merged["entry"]] == ["ige-new", "ige-old"]
    assert not any(link.get("relation") == "next" for link in merged.get("link", []))


def test_prefetched_bundle_with_next_link_is_paged(client, layer_spy, rsps):
    fake = FakeFhir(rsps)
    prefetch = full_prefetch()
    prefetch["totalIge"] = bundle(observation("ige-new", "19113-0", 250, "[IU]/mL"),
                                  next_url=f"{FHIR}/Observation?page=2")
    client.post(PV, json=hook_request(prefetch=prefetch, fhir_server=FHIR, token="t"))
    assert fake.keys() == ["page"]
    assert len(layer_spy["data"]["totalIge"]["entry"]) == 2


def test_paging_stops_at_the_page_limit_and_says_the_answer_is_partial(make_client, layer_spy, rsps):
    client = make_client(CDS_ALLOWED_FHIR_SERVERS=FHIR, CDS_FHIR_MAX_PAGES="3")
    counter = {"n": 0}

    def endless(request):
        counter["n"] += 1
        n = counter["n"]
        return 200, {}, json.dumps(bundle(observation(f"o{n}", "19113-0", 1, "[IU]/mL"),
                                          next_url=f"{FHIR}/Observation?page={n + 1}"))

    def route(request):
        if FakeFhir.key_of(None, request.url) in ("totalIge", "page"):
            return endless(request)
        return 200, {}, json.dumps(bundle())

    rsps.add_callback(responses.GET, re.compile(re.escape(FHIR) + r"/.*"), callback=route)
    client.post(PV, json=hook_request(prefetch={"patient": patient()}, fhir_server=FHIR, token="t"))
    assert counter["n"] == 3  # first page + 2 more = the limit
    assert len(layer_spy["data"]["totalIge"]["entry"]) == 3  # what was read is used...
    assert "totalIge" in layer_spy["unavailable"]  # ...and the answer says it is partial


def test_a_paging_loop_is_stopped(client, layer_spy, rsps):
    looping = bundle(observation("o", "19113-0", 1, "[IU]/mL"), next_url=f"{FHIR}/Observation?page=again")
    fake = FakeFhir(rsps, pages={"totalIge": looping, "page": looping})
    client.post(PV, json=hook_request(prefetch={"patient": patient()}, fhir_server=FHIR, token="t"))
    assert fake.keys().count("page") == 1
    assert "totalIge" in layer_spy["unavailable"]


def test_next_link_to_another_host_is_not_followed(client, layer_spy, rsps):
    first = bundle(observation("ige-new", "19113-0", 250, "[IU]/mL"),
                   next_url="https://attacker.example.com/Observation?page=2")
    FakeFhir(rsps, pages={"totalIge": first})
    client.post(PV, json=hook_request(prefetch={"patient": patient()}, fhir_server=FHIR, token="t"))
    assert all("attacker" not in call.request.url for call in rsps.calls)
    assert len(layer_spy["data"]["totalIge"]["entry"]) == 1
    assert "totalIge" in layer_spy["unavailable"]


def test_redirects_are_not_followed(client, layer_spy, rsps):
    rsps.add(responses.GET, re.compile(re.escape(FHIR) + r"/Observation.*"), status=302,
             headers={"Location": "https://attacker.example.com/steal"})
    rsps.add(responses.GET, re.compile(re.escape(FHIR) + r"/(Condition|Medication|Allergy).*"), json=bundle())
    resp = client.post(PV, json=hook_request(prefetch={"patient": patient()}, fhir_server=FHIR, token="t"))
    assert resp.status_code == 200
    assert all("attacker" not in call.request.url for call in rsps.calls)
    assert {"totalIge", "egfr"} <= set(layer_spy["unavailable"])


def test_missing_patient_without_fhir_access_is_412_operation_outcome(client, layer_spy, rsps):
    prefetch = full_prefetch()
    del prefetch["patient"]
    resp = client.post(PV, json=hook_request(prefetch=prefetch))
    assert resp.status_code == 412
    body = resp.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error" and "patient" in body["issue"][0]["diagnostics"]
    assert "data" not in layer_spy  # nothing reached the clinical layers


def test_patient_fetch_failing_is_412(client, layer_spy, rsps):
    FakeFhir(rsps, status_for={"patient": 500})
    resp = client.post(PV, json=hook_request(prefetch={}, fhir_server=FHIR, token="t"))
    assert resp.status_code == 412 and resp.get_json()["resourceType"] == "OperationOutcome"


def test_no_token_means_no_fetch_unless_open_fhir_is_configured(make_client, layer_spy, rsps):
    closed = make_client(CDS_ALLOWED_FHIR_SERVERS=FHIR)
    fake = FakeFhir(rsps)
    resp = closed.post(PV, json=hook_request(prefetch={"patient": patient()}, fhir_server=FHIR))
    assert resp.status_code == 200 and fake.calls == []
    assert set(layer_spy["unavailable"]) == ALL_KEYS - {"patient"}

    opened = make_client(CDS_ALLOWED_FHIR_SERVERS=FHIR, CDS_ALLOW_OPEN_FHIR="1")
    opened.post(PV, json=hook_request(prefetch={"patient": patient()}, fhir_server=FHIR))
    assert len(fake.calls) == len(ALL_KEYS) - 1
    assert all("Authorization" not in req.headers for _, req in fake.calls)
    assert layer_spy["unavailable"] == ()


def test_fhir_fetch_signal_per_fetched_key(client, layer_spy, rsps):
    from cds_service.signals import fhir_fetch

    FakeFhir(rsps, status_for={"egfr": 500})
    seen = []

    def receiver(sender, **kw):
        seen.append(kw)

    fhir_fetch.connect(receiver)
    try:
        client.post(PV, json=hook_request(prefetch={"patient": patient()}, fhir_server=FHIR, token="t"))
    finally:
        fhir_fetch.disconnect(receiver)
    assert {s["key"] for s in seen} == ALL_KEYS - {"patient"}
    assert [s["ok"] for s in seen if s["key"] == "egfr"] == [False]
    assert all(s["ok"] for s in seen if s["key"] != "egfr")


def test_order_hooks_pass_drafts_and_selections_down(client, layer_spy, rsps):
    from svc_helpers import ORDER

    body = hook_request("order-select", prefetch=full_prefetch())
    assert client.post(ORDER, json=body).status_code == 200
    assert layer_spy["selections"] == ["MedicationRequest/draft-1"] and layer_spy["hook"] == "order-select"
    assert layer_spy["checked_orders"] is True
    assert list(layer_spy["drafts_json"]) == ["MedicationRequest/draft-1"]


def test_references_resolve_from_drafts_prefetch_then_the_fhir_server(client, layer_spy, rsps):
    rsps.add(responses.GET, f"{FHIR}/Medication/med-9",
             json={"resourceType": "Medication", "id": "med-9", "code": {"text": "Xolair"}})
    prefetch = full_prefetch()
    prefetch["medicationRequests"] = bundle({"resourceType": "MedicationRequest", "id": "mr-1"})
    client.post(PV, json=hook_request(prefetch=prefetch, fhir_server=FHIR, token="t"))
    resolve = layer_spy["resolve"]
    assert resolve("MedicationRequest/mr-1")["id"] == "mr-1"  # from prefetch, no request
    assert len(rsps.calls) == 0
    assert resolve(f"{FHIR}/Medication/med-9")["code"]["text"] == "Xolair"
    assert resolve("https://elsewhere.example.com/Medication/x") is None
    assert len(rsps.calls) == 1


def test_a_server_ignoring_count_cannot_flood_the_mappings(make_client, layer_spy, rsps):
    client = make_client(CDS_ALLOWED_FHIR_SERVERS=FHIR, CDS_FHIR_MAX_PAGES="2")
    flood = bundle(*[observation(f"o{i}", "19113-0", i, "[IU]/mL") for i in range(500)])
    FakeFhir(rsps, pages={"totalIge": flood})
    client.post(PV, json=hook_request(prefetch={"patient": patient()}, fhir_server=FHIR, token="t"))
    count = int(parse_qs(fhir_mappings.prefetch_templates()["totalIge"].split("?", 1)[1])["_count"][0])
    kept = layer_spy["data"]["totalIge"]["entry"]
    assert len(kept) == count * 2 and kept[0]["resource"]["id"] == "o0"
    assert "totalIge" in layer_spy["unavailable"]


@pytest.mark.parametrize("field, value", [("entry", 5), ("entry", {"resource": {}}), ("link", 7),
                                          ("link", [None, {"relation": "next", "url": 3}])])
def test_malformed_bundle_arrays_in_prefetch_are_tolerated(client, rsps, field, value):
    FakeFhir(rsps)
    prefetch = full_prefetch()
    prefetch["totalIge"][field] = value
    resp = client.post(PV, json=hook_request(prefetch=prefetch, fhir_server=FHIR, token="t"))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
