"""The service against a real FHIR R4 server (Medplum's FHIR router, installed from npm; see
tools/fhir_server and the README's "Running against a real FHIR server").

For every scenario of demo/patients/index.json (each demo patient in patient-view, and in order-select
and order-sign with the draft the index names), the service answers twice: once with the complete
prefetch a CDS client would send (built from the demo store, tests/e2e/hooks.py), once with no
prefetch at all and `fhirServer` = the real server, so every key is searched there (patient search
parameter, LOINC `system|code` lists, `_sort=-date`, `_count`), paged through `next` links (the
server's page size is capped at PAGE_CAP), and on-treatment's omalizumab is resolved through
`medicationReference` to Medication resources on the server. The two answers must be identical but
for uuids, and must be the answer index.json expects (so a broken card fails here too).

Then the things a real server answers differently are checked on their own, and two deliberately
broken fetches (paging dropped, references not resolved) must be caught by the same comparison.
"""
from __future__ import annotations

import time
import uuid

import pytest
import requests

from cds_service import fhir_client, pipeline
from cds_service.fhir_client import FhirClient, new_session
from cds_service.services import ORDER_REVIEW_ID, PATIENT_VIEW_ID
from demo.store import raw_index
from tests.e2e.hooks import check_response, patient_resources
from tests.integration.conftest import make_app
from tests.integration.real_fhir import (ON_TREATMENT, PAGE_CAP, REFERENCED, check_expected, comparable,
                                         scenario_request, topic, without_prefetch)

pytestmark = pytest.mark.real_fhir

PATIENTS = raw_index()["patients"]
CASES = [pytest.param(p, hook, id=f"{p['slug']}-{hook}") for p in PATIENTS for hook in p["expected"]]
BY_SLUG = {p["slug"]: p for p in PATIENTS}
IGE = "Observation?patient=Patient/demo-allergic-asthma-adult&code=http://loinc.org|19113-0,http://loinc.org|2462-0,http://loinc.org|76488-6&_sort=-date&_count=20"


def direct_client(base: str) -> FhirClient:
    from cds_service.settings import Settings
    settings = Settings.from_env({}, {"CDS_AUTH": "off", "CDS_FHIR_READ_TIMEOUT": "15"})
    return FhirClient(base, token=None, session=new_session(), settings=settings)


def post(client, request: dict) -> list[dict]:
    service = PATIENT_VIEW_ID if request["hook"] == "patient-view" else ORDER_REVIEW_ID
    response = client.post(f"/cds-services/{service}", json=request)
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:2000])
    cards = response.get_json()["cards"]
    check_response(cards)
    return cards


@pytest.fixture
def fetches(monkeypatch):
    """Every prefetch completion of the test: (keys fetched, FetchResults, keys left unavailable)."""
    seen: list = []
    real = pipeline.complete_prefetch

    def spy(*args, **kwargs):
        outcome = real(*args, **kwargs)
        seen.append(outcome)
        return outcome

    monkeypatch.setattr(pipeline, "complete_prefetch", spy)
    return seen


def both_answers(client, fhir_base: str, p: dict, hook: str) -> tuple[list[dict], list[dict]]:
    request = scenario_request(p, hook)
    complete = post(client, request)
    fetched = post(client, without_prefetch(request, fhir_base))
    return complete, fetched


# --- the scenarios -------------------------------------------------------------------------------------

@pytest.mark.parametrize("p,hook", CASES)
def test_fetched_answer_is_identical_to_the_prefetch_answer(real_fhir, real_client, fetches, p, hook):
    complete, fetched = both_answers(real_client, real_fhir.base, p, hook)
    check_expected(p, hook, complete)
    assert comparable(fetched) == comparable(complete)
    assert "data-unavailable" not in [topic(c) for c in fetched]
    outcome = fetches[-1]
    assert sorted(outcome.fetched) == sorted(outcome.data), "every key must come from the server"
    assert outcome.unavailable == [] and all(r.ok and not r.partial for r in outcome.fetched.values())


def test_every_search_key_with_more_matches_than_a_page_was_paged(real_fhir, real_client, fetches):
    """The scenarios above page: with PAGE_CAP results per page, keys with more matches follow `next`."""
    for p in PATIENTS:
        post(real_client, without_prefetch(scenario_request(p, "patient-view"), real_fhir.base))
    paged = {(o.data["patient"]["id"], k): r.pages for o in fetches for k, r in o.fetched.items() if r.pages > 1}
    assert len(paged) >= 10, paged
    for outcome in fetches:
        for key, result in outcome.fetched.items():
            value = outcome.data[key]
            if isinstance(value, dict) and value.get("resourceType") == "Bundle":
                n = len(value.get("entry", []))
                assert result.pages == max(1, -(-n // PAGE_CAP)), (key, n, result.pages)
                assert "next" not in [link.get("relation") for link in value.get("link", [])]


# --- what the real server does differently, one by one -------------------------------------------------

def test_demo_patients_are_loaded_as_transactions_with_their_ids(real_fhir):
    assert set(real_fhir.loaded) == set(BY_SLUG)
    session = requests.Session()
    for slug, response in real_fhir.loaded.items():
        resources = patient_resources(slug)
        assert len(response["entry"]) == len(resources)
        patient = session.get(f"{real_fhir.base}/Patient/{BY_SLUG[slug]['patientId']}", timeout=10)
        assert patient.status_code == 200 and patient.json()["id"] == BY_SLUG[slug]["patientId"]
        assert patient.json()["meta"]["versionId"]  # the server's own meta is added to what was sent


def test_search_answer_shape_paging_links_and_no_total(real_fhir):
    """Medplum pages with `_offset` links on its own base, gives absolute fullUrls and sends no `total`
    unless asked (`_total=accurate`); the client follows the `next` link and merges the pages."""
    first = requests.get(f"{real_fhir.base}/{IGE}", timeout=10).json()
    assert "total" not in first
    assert len(first["entry"]) == PAGE_CAP
    assert all(e["fullUrl"].startswith(real_fhir.base + "/Observation/") for e in first["entry"])
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert links["next"].startswith(real_fhir.base + "/Observation?") and "_offset=2" in links["next"]
    counted = requests.get(f"{real_fhir.base}/{IGE}&_total=accurate", timeout=10).json()
    assert counted["total"] == 3

    client = direct_client(real_fhir.base)
    result = client.fetch("totalIge", IGE, deadline=time.monotonic() + 30)
    assert result.ok and not result.partial and result.pages == 2, result
    ids = [e["resource"]["id"] for e in result.value["entry"]]
    assert ids == ["aaa-ige-3", "aaa-ige-2", "aaa-ige-1"]  # _sort=-date across both pages
    assert [link["relation"] for link in result.value["link"]] == ["self", "first"]


def test_a_bare_patient_id_matches_nothing_on_this_server_so_the_service_sends_patient_slash_id(real_fhir):
    """FHIR allows `patient=<id>`; Medplum's engine answers it with an empty searchset (200 OK), which
    would read as 'no data'. The service sends `Patient/<id>` (prefetch.qualify_patient_references)."""
    bare = requests.get(f"{real_fhir.base}/{IGE.replace('Patient/demo', 'demo')}", timeout=10).json()
    assert bare["resourceType"] == "Bundle" and "entry" not in bare
    from cds_service.prefetch import qualify_patient_references
    assert qualify_patient_references(IGE.replace("Patient/demo", "demo")) == IGE


def test_medication_reference_is_resolved_from_the_server(real_fhir, real_client):
    on_server = requests.get(f"{real_fhir.base}/MedicationRequest/otx-medrx-1", timeout=10).json()
    assert "medicationCodeableConcept" not in on_server
    assert on_server["medicationReference"] == {"reference": f"Medication/{REFERENCED['otx-medrx-1']}"}
    p = BY_SLUG[ON_TREATMENT]
    complete, fetched = both_answers(real_client, real_fhir.base, p, "patient-view")
    assert comparable(fetched) == comparable(complete)
    assert "225 mg" in fetched[0]["summary"]  # dosed from the pre-treatment IgE: omalizumab was seen


def test_unknown_patient_is_a_412_with_the_servers_404_behind_it(real_fhir, real_client):
    missing = requests.get(f"{real_fhir.base}/Patient/not-a-demo-patient", timeout=10)
    assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"
    request = without_prefetch(scenario_request(BY_SLUG["aerd"], "patient-view"), real_fhir.base)
    request["context"]["patientId"] = "not-a-demo-patient"
    response = real_client.post(f"/cds-services/{PATIENT_VIEW_ID}", json=request)
    assert response.status_code == 412
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_an_error_answer_from_the_server_degrades_the_answer(real_fhir):
    """A 400 OperationOutcome (Medplum's shape: `details.text`, no `diagnostics`) fails that key only."""
    bad = requests.get(f"{real_fhir.base}/Observation?patient=Patient/x&date=not-a-date", timeout=10)
    assert bad.status_code == 400
    issue = bad.json()["issue"][0]
    assert issue["severity"] == "error" and "details" in issue and "diagnostics" not in issue
    client = direct_client(real_fhir.base)
    results = client.fetch_many({"egfr": "Observation?patient=Patient/x&date=not-a-date", "patient": "Patient/x"},
                                deadline=time.monotonic() + 30)
    assert not results["egfr"].ok and results["egfr"].reason == "HTTP 400"
    assert results["patient"].ok and results["patient"].value is None  # 404 on a read: no such resource


def test_next_links_on_another_base_are_not_followed(real_fhir, tmp_path_factory, fetches):
    """The server writes its links on the address it was started with (as HAPI writes its configured
    server address). Called under another spelling of the same host, its `next` links are not on the
    `fhirServer` the service was sent, and the client's same-base rule refuses them: a partial answer
    that says so, never a request to a URL the EHR did not name."""
    other = real_fhir.base.replace("127.0.0.1", "localhost")
    assert other != real_fhir.base
    app = make_app(tmp_path_factory, other)
    with app.test_client() as client:
        p = BY_SLUG["allergic-asthma-adult"]
        cards = post(client, without_prefetch(scenario_request(p, "patient-view"), other))
    unavailable = [c for c in cards if topic(c) == "data-unavailable"]
    assert unavailable, [topic(c) for c in cards]
    reasons = fetches[-1].reasons
    assert reasons and all(r == "next link outside fhirServer not followed" for r in reasons.values()), reasons
    assert set(reasons) == {k for k, r in fetches[-1].fetched.items() if r.pages == 1 and r.partial}


# --- the comparison catches a broken fetch -------------------------------------------------------------

def mismatches(client, fhir_base: str, cases) -> list[str]:
    out = []
    for p, hook in cases:
        complete, fetched = both_answers(client, fhir_base, p, hook)
        if comparable(fetched) != comparable(complete):
            out.append(f"{p['slug']}-{hook}")
    return out


def test_a_fetch_that_drops_paging_is_caught(real_fhir, real_client, monkeypatch):
    """Break the client: ignore every `next` link (first page only, silently). The comparison fails."""
    monkeypatch.setattr(fhir_client, "_next_link", lambda bundle: None)
    cases = [(p, "patient-view") for p in PATIENTS]
    broken = mismatches(real_client, real_fhir.base, cases)
    print("answers changed by the broken paging:", broken)
    assert "on-treatment-patient-view" in broken, broken  # its pre-treatment weight is on page 2
    assert len(broken) >= 3, broken


def test_a_fetch_that_does_not_resolve_references_is_caught(real_fhir, real_client, monkeypatch):
    """Break the client: every reference read from the server answers nothing. The comparison fails."""
    monkeypatch.setattr(FhirClient, "read", lambda self, reference, *, deadline: None)
    assert mismatches(real_client, real_fhir.base, [(BY_SLUG[ON_TREATMENT], "patient-view")]) == [
        "on-treatment-patient-view"]


def test_hook_instance_ids_differ_between_the_two_calls(real_fhir):
    """Sanity of the comparison itself: it is the fetched request that has no prefetch keys."""
    request = scenario_request(BY_SLUG["aerd"], "patient-view")
    fetched = without_prefetch(request, real_fhir.base)
    assert "prefetch" in request and "prefetch" not in fetched
    assert uuid.UUID(fetched["hookInstance"]) != uuid.UUID(request["hookInstance"])
