"""The fault injector itself: each mode really misbehaves the way the service tests assume.

If a mode silently served good data, every "service survives fault X" test would pass for the wrong
reason; these checks pin the harness down with a plain `requests` client.
"""
from __future__ import annotations

import json
import time

import pytest
import requests

from rel_faultserver import FaultyFHIRServer

CHART = {
    "Patient": [{"resourceType": "Patient", "id": "p1", "birthDate": "1980-01-01"}],
    "Observation": [
        {"resourceType": "Observation", "id": "ige", "code": {"coding": [{"system": "http://loinc.org",
                                                                            "code": "19113-0"}]}},
        {"resourceType": "Observation", "id": "wt", "code": {"coding": [{"system": "http://loinc.org",
                                                                           "code": "29463-7"}]}},
    ],
}


@pytest.fixture
def srv(fault_server: FaultyFHIRServer) -> FaultyFHIRServer:
    fault_server.chart = CHART
    fault_server.slow_seconds = 1.5
    fault_server.huge_entries = 2_000
    return fault_server


def test_ok_read_and_code_filtered_search(srv):
    r = requests.get(f"{srv.url}/Patient/p1", timeout=5)
    assert r.status_code == 200 and r.json()["id"] == "p1"
    b = requests.get(f"{srv.url}/Observation?patient=p1&code=http://loinc.org|19113-0", timeout=5).json()
    assert [e["resource"]["id"] for e in b["entry"]] == ["ige"]
    assert requests.get(f"{srv.url}/Patient/nope", timeout=5).status_code == 404
    assert srv.hit_count() == 3


@pytest.mark.parametrize("mode,status", [("500", 500), ("401", 401), ("404", 404)])
def test_error_statuses(srv, mode, status):
    srv.set_mode(mode)
    assert requests.get(f"{srv.url}/Patient/p1", timeout=5).status_code == status


def test_malformed_and_non_fhir_bodies(srv):
    srv.set_mode("malformed")
    with pytest.raises(ValueError):
        requests.get(f"{srv.url}/Observation", timeout=5).json()
    srv.set_mode("non-fhir")
    r = requests.get(f"{srv.url}/Observation", timeout=5)
    assert r.headers["Content-Type"].startswith("text/html")
    srv.set_mode("non-fhir-json")
    assert "resourceType" not in requests.get(f"{srv.url}/Observation", timeout=5).json()


def test_slow_exceeds_a_short_timeout(srv):
    srv.set_mode("slow")
    t0 = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{srv.url}/Patient/p1", timeout=(1, 0.3))
    assert time.monotonic() - t0 < 1.0


def test_trickle_defeats_a_per_read_timeout(srv):
    """Each byte arrives before the read timeout, so only a total deadline can stop it."""
    srv.set_mode("trickle")
    srv.trickle_interval = 0.05
    t0 = time.monotonic()
    with requests.get(f"{srv.url}/Patient/p1", timeout=(1, 0.5), stream=True) as r:
        got = b""
        for chunk in r.iter_content(1):
            got += chunk
            if time.monotonic() - t0 > 0.6:
                break
    assert time.monotonic() - t0 > 0.5 and 0 < len(got) < 200  # still going after the read timeout


def test_huge_bundle_is_big(srv):
    srv.set_mode("huge")
    r = requests.get(f"{srv.url}/Observation", timeout=10)
    assert len(r.content) > 2_000 * 300 and len(r.json()["entry"]) == 2_000


def test_next_link_loop_and_offhost(srv, attacker_server):
    srv.set_mode("next-loop")
    b = requests.get(f"{srv.url}/Observation?code=19113-0", timeout=5).json()
    nxt = [link["url"] for link in b["link"] if link["relation"] == "next"]
    assert nxt == [f"{srv.url}/Observation?code=19113-0"]
    srv.set_mode("next-offhost")
    b = requests.get(f"{srv.url}/Observation", timeout=5).json()
    assert b["link"][0]["url"].startswith(attacker_server.url)


def test_redirect_offhost_reaches_attacker_only_if_followed(srv, attacker_server):
    srv.set_mode("redirect-offhost")
    r = requests.get(f"{srv.url}/Patient/p1", timeout=5, allow_redirects=False)
    assert r.status_code == 302 and attacker_server.hit_count() == 0
    requests.get(f"{srv.url}/Patient/p1", timeout=5)  # a naive client follows it
    assert attacker_server.hit_count() == 1


def test_connection_reset(srv):
    srv.set_mode("reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{srv.url}/Patient/p1", timeout=5)
    srv.set_mode("ok")  # the server itself survives
    assert requests.get(f"{srv.url}/Patient/p1", timeout=5).status_code == 200


def test_rules_route_by_path(srv):
    srv.set_mode("500", pattern=r"^/Observation")
    assert requests.get(f"{srv.url}/Patient/p1", timeout=5).status_code == 200
    assert requests.get(f"{srv.url}/Observation?code=x", timeout=5).status_code == 500
    assert [h.mode for h in srv.hits] == ["ok", "500"]


def test_attacker_records_and_answers(attacker_server):
    attacker_server.record_body = {"keys": []}
    r = requests.get(f"{attacker_server.url}/jwks.json", headers={"X-Probe": "1"}, timeout=5)
    assert json.loads(r.content) == {"keys": []}
    assert attacker_server.hits[0].path == "/jwks.json" and attacker_server.hits[0].headers["X-Probe"] == "1"


def test_stop_wakes_slow_handlers():
    srv = FaultyFHIRServer(CHART, default_mode="slow", slow_seconds=30).start()
    import threading

    errors: list[Exception] = []

    def call():
        try:
            requests.get(f"{srv.url}/Patient/p1", timeout=10)
        except Exception as exc:  # noqa: BLE001 - any outcome is fine, it must just end
            errors.append(exc)

    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    srv.stop()
    t.join(timeout=10)
    assert not t.is_alive() and time.monotonic() - t0 < 6
