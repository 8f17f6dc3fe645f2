"""FhirClient._send (a prepared request through the Session's adapter) against the
`session.get(..., allow_redirects=False, stream=True)` call it replaced, over real HTTP.

For every fault mode of the faulty FHIR server (bar the slow ones, covered by test_fhir_faults), the
same queries go through both; the server must see the same requests (method, path and query,
headers) and the fetch results must be the same (value, reason text, notes, pages)."""
from __future__ import annotations

import time

import pytest

from cds_service.fhir_client import FHIR_ACCEPT, FhirClient, new_session
from cds_service.settings import Settings
from rel_faultserver import FAULT_MODES, FaultyFHIRServer
from rel_requests import CHART, PATIENT

QUERIES = ["Patient/" + PATIENT["id"],
           f"Observation?patient={PATIENT['id']}&code=http://loinc.org|19113-0,http://loinc.org|2462-0"
           "&_sort=-date&_count=20",
           f"Condition?patient={PATIENT['id']}&clinical-status=active,recurrence,relapse",
           "Observation?patient=a b&code=é|x&_count=2", "Patient/none"]
MODES = ["ok"] + [m for m in FAULT_MODES if m not in ("slow", "trickle")]


class SessionGetClient(FhirClient):
    """The reference: the request as `_get_json` sent it before `_send`."""

    def __init__(self, *args, token, **kwargs):
        super().__init__(*args, token=token, **kwargs)
        self.ref_token = token

    def _send(self, url, timeout):
        headers = {"Accept": FHIR_ACCEPT}
        if self.ref_token:
            headers["Authorization"] = f"Bearer {self.ref_token}"
        return self.session.get(url, headers=headers, timeout=timeout, allow_redirects=False, stream=True)


def _settings(base):
    return Settings.from_env(overrides={"CDS_AUTH": "off", "CDS_ALLOWED_FHIR_SERVERS": base,
                                        "CDS_FHIR_BUDGET_SECONDS": "5"})


def _run(cls, srv, token):
    client = cls(srv.url, token=token, session=new_session(), settings=_settings(srv.url))
    srv.reset_hits()
    out = []
    for i, query in enumerate(QUERIES):
        r = client.fetch(f"k{i}", query, deadline=time.monotonic() + 5)
        out.append((r.key, r.ok, r.reason, r.value, r.notes, r.pages, r.partial))
    hits = [(h.method, h.path, sorted(h.headers.items()), h.mode) for h in srv.hits]
    return out, hits


@pytest.fixture(scope="module")
def servers():
    with FaultyFHIRServer(default_mode="record") as attacker, FaultyFHIRServer(CHART, slow_seconds=8.0) as srv:
        srv.offhost_url = attacker.url
        yield srv, attacker


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("token", ["tok", None, "bad\ntoken"])
def test_send_is_the_session_get_it_replaced(servers, mode, token):
    srv, attacker = servers
    srv.set_mode(mode)
    new, new_hits = _run(FhirClient, srv, token)
    old, old_hits = _run(SessionGetClient, srv, token)
    assert new == old
    assert new_hits == old_hits
    assert attacker.hit_count() == 0


def test_the_reference_still_reports_what_the_service_reports(servers):
    """A redirect is not followed and its reason is the one `Session.send` gave (TooManyRedirects)."""
    srv, _ = servers
    srv.set_mode("redirect-offhost")
    new, _ = _run(FhirClient, srv, "tok")
    assert all(not ok for _, ok, *_ in new)
    assert {reason for _, _, reason, *_ in new} == {"connection error (TooManyRedirects)"}


def test_a_set_cookie_is_never_sent_back():
    """The Session's cookie jar is not used: nothing but our own headers reaches a FHIR server."""
    import responses

    base = "http://fhir.test"
    session = new_session()
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, f"{base}/Patient/p", json={"resourceType": "Patient", "id": "p"},
                 headers={"Set-Cookie": "sid=abc; Path=/"})
        for _ in range(2):
            client = FhirClient(base, token="t", session=session, settings=_settings(base))
            assert client.fetch("patient", "Patient/p", deadline=time.monotonic() + 5).ok
        assert len(rsps.calls) == 2
        assert all("Cookie" not in call.request.headers for call in rsps.calls)
    assert not session.cookies
