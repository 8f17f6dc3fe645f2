"""The demo FHIR server on a bare Flask app: reads, searches, paging, POST _search, CORS, errors."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask import Flask

import demo

PID = "demo-allergic-asthma-adult"
IGE = "http://loinc.org|19113-0,http://loinc.org|2462-0"


@pytest.fixture()
def client():
    app = Flask("demo-test")
    app.config["CDS_CLOCK"] = "2026-11-01"  # the anchor: dates as stored
    demo.init_app(app)
    return app.test_client()


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def test_metadata_is_an_r4_capability_statement(client):
    r = client.get("/demo/fhir/metadata")
    assert r.status_code == 200 and r.mimetype == "application/fhir+json"
    cap = r.get_json()
    assert cap["resourceType"] == "CapabilityStatement" and cap["fhirVersion"] == "4.0.1"
    types = {res["type"] for res in cap["rest"][0]["resource"]}
    assert {"Patient", "Observation", "Condition", "MedicationRequest", "MedicationStatement",
            "AllergyIntolerance"} <= types


def test_read_and_unknown_id(client):
    r = client.get(f"/demo/fhir/Patient/{PID}")
    assert r.status_code == 200 and r.get_json()["id"] == PID
    r = client.get("/demo/fhir/Patient/nobody")
    assert r.status_code == 404
    assert r.get_json()["resourceType"] == "OperationOutcome"
    assert client.get("/demo/fhir/Encounter/x").status_code == 404


def test_cors_any_origin(client):
    r = client.get("/demo/fhir/metadata", headers={"Origin": "http://localhost:8081"})
    assert r.headers["Access-Control-Allow-Origin"] in ("*", "http://localhost:8081")
    pre = client.options("/demo/fhir/Observation/_search", headers={
        "Origin": "http://localhost:8081", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 200
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert "content-type" in pre.headers["Access-Control-Allow-Headers"].lower()


def test_code_search_or_sort_and_total(client):
    r = client.get(f"/demo/fhir/Observation?patient={PID}&code={IGE}&_sort=-date")
    bundle = r.get_json()
    assert bundle["type"] == "searchset" and bundle["total"] == 3
    dates = [e["resource"]["effectiveDateTime"] for e in bundle["entry"]]
    assert dates == sorted(dates, reverse=True)
    units = [e["resource"]["valueQuantity"]["code"] for e in bundle["entry"]]
    assert units == ["[IU]/mL", "k[IU]/L", "ng/mL"]  # newest first, as the lab sent them
    assert bundle["link"][0]["relation"] == "self"
    asc = client.get(f"/demo/fhir/Observation?patient={PID}&code={IGE}&_sort=date").get_json()
    assert [e["resource"]["effectiveDateTime"] for e in asc["entry"]] == dates[::-1]
    # token forms: bare code, and Patient/<id> reference form
    same = client.get(f"/demo/fhir/Observation?subject=Patient/{PID}&code=19113-0,2462-0").get_json()
    assert same["total"] == 3
    # system mismatch finds nothing
    none = client.get(f"/demo/fhir/Observation?patient={PID}&code=http://snomed.info/sct|19113-0").get_json()
    assert none["total"] == 0 and none["entry"] == []


def test_count_truncates_with_next_links_that_page_through_everything(client):
    first = client.get(f"/demo/fhir/Observation?patient={PID}&_sort=-date&_count=4").get_json()
    total = first["total"]
    assert total > 8 and len(first["entry"]) == 4
    seen = [e["resource"]["id"] for e in first["entry"]]
    page = first
    while True:
        nxt = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not nxt:
            break
        page = client.get(_path(nxt[0])).get_json()
        assert page["total"] == total
        seen += [e["resource"]["id"] for e in page["entry"]]
    assert len(seen) == total == len(set(seen))
    full = client.get(f"/demo/fhir/Observation?patient={PID}&_sort=-date&_count=100").get_json()
    assert [e["resource"]["id"] for e in full["entry"]] == seen
    assert not [link for link in full["link"] if link["relation"] == "next"]


def test_post_search_form_encoded_equals_get(client):
    get = client.get(f"/demo/fhir/Condition?patient=demo-eosinophilic-asthma&clinical-status=active").get_json()
    post = client.post("/demo/fhir/Condition/_search",
                       data={"patient": "demo-eosinophilic-asthma", "clinical-status": "active"}).get_json()
    assert get["total"] == post["total"] == 2  # the refuted, inactive allergic-asthma entry is excluded
    assert [e["resource"]["id"] for e in get["entry"]] == [e["resource"]["id"] for e in post["entry"]]
    everything = client.get("/demo/fhir/Condition?patient=demo-eosinophilic-asthma").get_json()
    assert everything["total"] == 3


def test_status_date_and_category_filters(client):
    active = client.get("/demo/fhir/MedicationRequest?patient=demo-csu-refractory&status=active").get_json()
    assert [e["resource"]["medicationCodeableConcept"]["text"] for e in active["entry"]] == \
        ["cetirizine 10 mg tablet (Zyrtec), 2 tablets daily"]
    recent = client.get("/demo/fhir/Observation?patient=demo-csu-ckd-hypertension&code=98979-8"
                        "&date=ge2026-06-15").get_json()
    assert sorted(e["resource"]["valueQuantity"]["value"] for e in recent["entry"]) == [41, 44]
    vitals = client.get("/demo/fhir/Observation?patient=demo-csu-ckd-hypertension"
                        "&category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs").get_json()
    assert vitals["total"] == 4  # three BP panels and one weight
    food = client.get("/demo/fhir/AllergyIntolerance?patient=demo-food-allergy&category=food").get_json()
    assert food["total"] == 1


def test_patient_search_lists_every_demo_patient(client):
    bundle = client.get("/demo/fhir/Patient").get_json()
    assert bundle["total"] == 12
    one = client.get(f"/demo/fhir/Patient?_id={PID}").get_json()
    assert [e["resource"]["id"] for e in one["entry"]] == [PID]
    by_name = client.get("/demo/fhir/Patient?name=rivera").get_json()
    assert [e["resource"]["id"] for e in by_name["entry"]] == [PID]


def test_unsupported_parameters_and_writes_are_refused_with_operation_outcomes(client):
    r = client.get(f"/demo/fhir/Observation?patient={PID}&value-quantity=gt5")
    assert r.status_code == 400 and r.get_json()["resourceType"] == "OperationOutcome"
    assert client.get("/demo/fhir/Observation?_count=abc").status_code == 400
    assert client.get("/demo/fhir/Observation?date=xx2026-01-01").status_code == 400
    assert client.get("/demo/fhir?_getpages=!!!").status_code == 400
    assert client.post("/demo/fhir/Patient", json={"resourceType": "Patient"}).status_code == 405
    assert client.put(f"/demo/fhir/Patient/{PID}", json={}).status_code == 405
    assert client.delete(f"/demo/fhir/Patient/{PID}").status_code == 405


def test_dates_served_are_shifted_to_the_clock():
    app = Flask("demo-test-shift")
    app.config["CDS_CLOCK"] = "2026-12-01"  # 30 days after the anchor
    demo.init_app(app)
    pt = app.test_client().get(f"/demo/fhir/Patient/{PID}").get_json()
    assert pt["birthDate"] == "1984-06-11"  # stored 1984-05-12, + 30 days
