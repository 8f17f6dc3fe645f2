"""fhirServer trust (issue 8, item 4): an authenticated client cannot make the service call other hosts.

Each trusted issuer lists the FHIR bases it may send.  Any other `fhirServer` is refused before a
single request is made; redirects, `next` links, prefetched `next` links and absolute references that
point elsewhere are not followed.  The "attacker" server records every request and must stay silent.
"""
from __future__ import annotations

import json
import uuid

import pytest

from rel_jwt import PUBLIC_BASE, IssuerKit, SigningKey, bearer, write_issuers
from rel_requests import CHART, PATIENT, PATIENT_ID, full_prefetch, hook_request, topics

PV = "/cds-services/omalizumab-patient-view"


@pytest.fixture(scope="module")
def keys():
    return SigningKey.ec("trust-ec"), SigningKey.rsa("trust-rsa"), SigningKey.ec("trust-other")


@pytest.fixture
def setup(keys, tmp_path, fault_server, attacker_server):
    """Issuer A may send fault_server; issuer B (own key) may send only the attacker's URL."""
    ec_key, rsa_key, other_key = keys
    fault_server.chart = CHART
    b_jwks = {"keys": [other_key.public_jwk]}
    issuers, jwks_path = write_issuers(
        tmp_path, ec_key=ec_key, rsa_key=rsa_key, fhir_servers=[fault_server.url + "/"],
        extra_issuers=[{"iss": "https://ehr-b.rel.test", "jwks": b_jwks, "fhir_servers": [attacker_server.url]}])
    kit = IssuerKit(ec_key, rsa_key, other_key, issuers, jwks_path)
    from cds_service.app import create_app

    app = create_app({"CDS_AUTH": "jwt", "CDS_TRUSTED_ISSUERS": str(issuers), "CDS_PUBLIC_BASE_URL": PUBLIC_BASE,
                      "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/trust.sqlite3", "CDS_CLOCK": "2025-06-01",
                      "CDS_FHIR_BUDGET_SECONDS": "1.5"})
    app.testing = True
    return kit, app.test_client(), fault_server, attacker_server


def call(kit, client, body, key=None, iss=None):
    kwargs = {"key": key} if key else {}
    if iss:
        kwargs["iss"] = iss
    return client.post(PV, json=body, headers=bearer(kit.token(PV, **kwargs)))


def test_listed_fhir_server_is_used(setup):
    kit, client, fhir, attacker = setup
    resp = call(kit, client, hook_request(prefetch={"patient": PATIENT}, fhir_server=fhir.url, fhir_token="t"))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert fhir.hit_count() > 0 and attacker.hit_count() == 0
    assert "data-unavailable" not in topics(resp.get_json())


@pytest.mark.parametrize("variant", ["trailing-slash", "upper-scheme"])
def test_spelling_variants_of_a_listed_base_are_the_same_base(setup, variant):
    kit, client, fhir, attacker = setup
    url = {"trailing-slash": fhir.url + "/", "upper-scheme": fhir.url.replace("http://", "HTTP://")}[variant]
    resp = call(kit, client, hook_request(prefetch={"patient": PATIENT}, fhir_server=url, fhir_token="t"))
    assert resp.status_code == 200


def _unlisted(fhir_url: str, attacker_url: str) -> dict[str, str]:
    host_port = fhir_url.split("//", 1)[1]
    return {
        "attacker-host": attacker_url,
        "attacker-with-fhir-path": attacker_url + "/fhir",
        "listed-host-other-path": fhir_url + "/other-tenant",
        "path-traversal": fhir_url + "/../admin",
        "listed-as-subdomain-prefix": f"http://{host_port}.evil.example",
        "userinfo-trick": f"http://{host_port}@{attacker_url.split('//', 1)[1]}",
        "https-downgrade-other-scheme": fhir_url.replace("http://", "ftp://"),
        "metadata-ip": "http://169.254.169.254/latest/meta-data",
        "localhost-alias": fhir_url.replace("127.0.0.1", "localhost"),
        "ipv6-loopback": fhir_url.replace("127.0.0.1", "[::1]"),
        "decimal-ip": fhir_url.replace("127.0.0.1", "2130706433"),
    }


@pytest.mark.parametrize("variant", sorted(_unlisted("http://h:1", "http://a:2")))
def test_unlisted_fhir_server_is_refused_without_a_request(setup, figures, variant):
    kit, client, fhir, attacker = setup
    url = _unlisted(fhir.url, attacker.url)[variant]
    fhir.reset_hits()
    resp = call(kit, client, hook_request(prefetch={"patient": PATIENT}, fhir_server=url, fhir_token="t"))
    figures.add("fhir_trust_cases")
    assert 400 <= resp.status_code < 500 and resp.status_code != 401, resp.status_code
    assert resp.is_json and "error" in resp.get_json()
    assert attacker.hit_count() == 0 and fhir.hit_count() == 0


def test_another_issuers_fhir_server_is_refused(setup):
    """Issuer B may send the attacker URL; issuer A may not, even though the service knows that URL."""
    kit, client, fhir, attacker = setup
    resp = call(kit, client, hook_request(prefetch={"patient": PATIENT}, fhir_server=attacker.url, fhir_token="t"))
    assert resp.status_code == 403 and attacker.hit_count() == 0
    # and B cannot use A's server
    resp = call(kit, client, hook_request(prefetch={"patient": PATIENT}, fhir_server=fhir.url, fhir_token="t"),
                key=kit.stranger, iss="https://ehr-b.rel.test")
    assert resp.status_code == 403 and fhir.hit_count() == 0


def test_redirect_off_host_is_not_followed(setup):
    kit, client, fhir, attacker = setup
    fhir.set_mode("redirect-offhost")
    resp = call(kit, client, hook_request(prefetch={"patient": PATIENT}, fhir_server=fhir.url, fhir_token="secret-t"))
    assert resp.status_code == 200
    assert "data-unavailable" in topics(resp.get_json())
    assert fhir.hit_count() > 0 and attacker.hit_count() == 0


def test_next_link_off_host_is_not_followed(setup):
    kit, client, fhir, attacker = setup
    fhir.set_mode("next-offhost")
    resp = call(kit, client, hook_request(prefetch={"patient": PATIENT}, fhir_server=fhir.url, fhir_token="t"))
    assert resp.status_code == 200 and attacker.hit_count() == 0


def test_prefetched_next_link_off_host_is_not_followed(setup):
    kit, client, fhir, attacker = setup
    pf = full_prefetch()
    pf["totalIge"] = dict(pf["totalIge"], link=[{"relation": "next", "url": attacker.url + "/Observation?page=2"}])
    resp = call(kit, client, hook_request(prefetch=pf, fhir_server=fhir.url, fhir_token="t"))
    assert resp.status_code == 200 and attacker.hit_count() == 0


def test_absolute_references_to_other_hosts_are_not_resolved(setup):
    kit, client, fhir, attacker = setup
    pf = full_prefetch()
    mr = {"resourceType": "MedicationRequest", "id": "mr-ref", "status": "active", "intent": "order",
          "subject": {"reference": f"Patient/{PATIENT_ID}"},
          "medicationReference": {"reference": attacker.url + "/Medication/xolair"}}
    pf["medicationRequests"] = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": mr}]}
    resp = call(kit, client, hook_request(prefetch=pf, fhir_server=fhir.url, fhir_token="t"))
    assert resp.status_code == 200 and attacker.hit_count() == 0


def test_no_fhir_server_token_means_no_fetch_when_open_access_is_off(setup):
    """Without fhirAuthorization the service does not read the FHIR server (CDS_ALLOW_OPEN_FHIR off)."""
    kit, client, fhir, attacker = setup
    resp = call(kit, client, hook_request(prefetch={"patient": PATIENT}, fhir_server=fhir.url))
    assert resp.status_code == 200
    assert fhir.hit_count() == 0
    assert "data-unavailable" in topics(resp.get_json())


def test_fhir_token_goes_only_to_the_listed_server(setup):
    kit, client, fhir, attacker = setup
    token = "fhir-" + uuid.uuid4().hex
    fhir.set_mode("next-offhost")
    call(kit, client, hook_request(prefetch={"patient": PATIENT}, fhir_server=fhir.url, fhir_token=token))
    assert all(h.headers.get("Authorization") == f"Bearer {token}" for h in fhir.hits)
    assert not any(token in json.dumps(h.headers) for h in attacker.hits)
