"""The bench's floor (bench/floor_app.py): a static card, and for a request whose data must be fetched
(empty prefetch, a fhirServer) the service's prefetch searches read from that server first."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import unquote

import responses

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import floor_app  # noqa: E402

from fhir_mappings import prefetch_templates  # noqa: E402

BASE = "https://fhir.example.org/r4"


def _body(**extra) -> dict:
    body = {"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/1", "patientId": "pat-1"}}
    body.update(extra)
    return body


@responses.activate
def test_a_complete_request_gets_the_static_card_without_any_read():
    client = floor_app.create_app().test_client()
    resp = client.post("/cds-services/x", json=_body(prefetch={"patient": {"resourceType": "Patient"}},
                                                     fhirServer=BASE))
    assert resp.status_code == 200
    assert resp.get_json()["cards"][0]["summary"] == "Floor: static card"
    assert len(responses.calls) == 0


@responses.activate
def test_an_empty_prefetch_is_read_from_the_fhir_server_search_by_search():
    import re

    responses.add(responses.GET, re.compile(re.escape(BASE) + "/.*"),
                  json={"resourceType": "Bundle", "type": "searchset", "entry": []})
    client = floor_app.create_app().test_client()
    resp = client.post("/cds-services/x", json=_body(prefetch={}, fhirServer=BASE + "/",
                                                     fhirAuthorization={"access_token": "tok"}))
    assert resp.status_code == 200 and resp.get_json()["cards"][0]["summary"] == "Floor: static card"
    expected = sorted(f"{BASE}/{t.replace('{{context.patientId}}', 'pat-1')}" for t in prefetch_templates().values())
    got = sorted(unquote(call.request.url) for call in responses.calls)
    assert len(got) == len(expected) == 12
    assert got == sorted(unquote(u) for u in expected)
    assert all(call.request.headers["Authorization"] == "Bearer tok" for call in responses.calls)


def test_bad_bodies_are_refused():
    client = floor_app.create_app().test_client()
    assert client.post("/cds-services/x", data="nope", content_type="application/json").status_code == 400
