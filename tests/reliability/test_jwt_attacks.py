"""JWT attack matrix (issue 8, item 3): every forged, stale, misdirected or misplaced token is a 401.

Each attack is checked against a control: the same call with an honest token succeeds, so a 401 here
means the token was refused, not that the request was broken.  The "attacker" server records every
request; for the jku attack it serves the attacker's own JWKS, and it must never be contacted.
"""
from __future__ import annotations

import json
import time
import uuid

import pytest

from rel_jwt import (DROP, ISSUER, JKU_ALLOWED, PUBLIC_BASE, IssuerKit, SigningKey, alg_none_token, b64url_json,
                     bearer, claims, hs256_key_confusion_token, jwks, tampered_payload_token, write_issuers)
from rel_requests import feedback_body, full_prefetch, hook_request

PV = "/cds-services/omalizumab-patient-view"
OR = "/cds-services/omalizumab-order-review"
DISCOVERY = "/cds-services"
FEEDBACK = PV + "/feedback"


@pytest.fixture(scope="module")
def keys():
    return SigningKey.ec("ehr-ec-1"), SigningKey.rsa("ehr-rsa-1"), SigningKey.ec("stranger-1")


@pytest.fixture
def kit(keys, tmp_path) -> IssuerKit:
    ec_key, rsa_key, stranger = keys
    issuers, jwks_path = write_issuers(tmp_path, ec_key=ec_key, rsa_key=rsa_key,
                                       fhir_servers=["http://127.0.0.1:1/fhir"])
    return IssuerKit(ec_key, rsa_key, stranger, issuers, jwks_path)


def make_app(kit: IssuerKit, tmp_path, **extra):
    from cds_service.app import create_app

    config = {"CDS_AUTH": "jwt", "CDS_TRUSTED_ISSUERS": str(kit.issuers_path), "CDS_PUBLIC_BASE_URL": PUBLIC_BASE,
              "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/jwt-{uuid.uuid4().hex[:6]}.sqlite3",
              "CDS_CLOCK": "2025-06-01",
              # authentication is under test here, not the clinical pipeline (fuzzed elsewhere)
              "CDS_EVALUATOR": lambda body, **_: {"cards": []}}
    config.update(extra)
    app = create_app(config)
    app.testing = True
    return app


@pytest.fixture
def client(kit, tmp_path):
    return make_app(kit, tmp_path).test_client()


def pv_call(client, headers=None, query_string=None):
    return client.post(PV, json=hook_request(prefetch=full_prefetch()), headers=headers or {},
                       query_string=query_string)


def assert_refused(resp):
    assert resp.status_code == 401, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.get_json() == {"error": "unauthorized"}  # no hint about why
    assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer")


# -- controls -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["ec", "rsa"])
def test_honest_token_is_accepted(kit, client, which):
    key = kit.ec if which == "ec" else kit.rsa
    resp = pv_call(client, bearer(kit.token(PV, key=key)))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert isinstance(resp.get_json()["cards"], list)


def test_honest_tokens_for_discovery_and_feedback(kit, client):
    assert client.get(DISCOVERY, headers=bearer(kit.token(DISCOVERY))).status_code == 200
    resp = client.post(FEEDBACK, json=feedback_body(), headers=bearer(kit.token(FEEDBACK)))
    assert 200 <= resp.status_code < 300


def test_no_token_at_all(client):
    assert_refused(pv_call(client))


# -- the matrix -----------------------------------------------------------------------------------------
def _payload(kit, **over):
    c = claims(iss=ISSUER, aud=kit.aud(PV))
    c.update(over)
    return {k: v for k, v in c.items() if v is not DROP}


ATTACKS = {
    # signature attacks
    "alg-none": lambda k, a: bearer(alg_none_token(_payload(k), kid=k.ec.kid)),
    "alg-None-case": lambda k, a: bearer(alg_none_token(_payload(k), kid=k.ec.kid, alg="None")),
    "hs256-public-pem-as-secret": lambda k, a: bearer(
        hs256_key_confusion_token(_payload(k), kid=k.ec.kid, secret=k.ec.public_pem())),
    "hs256-rsa-public-pem-as-secret": lambda k, a: bearer(
        hs256_key_confusion_token(_payload(k), kid=k.rsa.kid, secret=k.rsa.public_pem())),
    "hs384-jwk-json-as-secret": lambda k, a: bearer(hs256_key_confusion_token(
        _payload(k), kid=k.ec.kid, secret=json.dumps(k.ec.public_jwk).encode(), alg="HS384")),
    "unknown-kid": lambda k, a: bearer(k.stranger.sign(_payload(k))),
    "known-kid-wrong-key": lambda k, a: bearer(k.stranger.sign(_payload(k), kid=k.ec.kid)),
    "tampered-claims": lambda k, a: bearer(tampered_payload_token(k.token(PV), iss=ISSUER, sub="admin",
                                                                  jti=uuid.uuid4().hex)),
    "rs-token-under-ec-kid": lambda k, a: bearer(k.rsa.sign(_payload(k), kid=k.ec.kid)),
    "no-kid": lambda k, a: bearer(__import__("jwt").encode(_payload(k), k.ec.private, algorithm="ES384")),
    "jku-off-allowlist": lambda k, a: bearer(k.stranger.sign(_payload(k), headers={"jku": a + "/jwks.json"})),
    "jku-off-allowlist-known-kid": lambda k, a: bearer(
        k.stranger.sign(_payload(k), kid=k.ec.kid, headers={"jku": a + "/jwks.json"})),
    "x5u-header": lambda k, a: bearer(k.stranger.sign(_payload(k), headers={"x5u": a + "/cert.pem"})),
    "embedded-jwk-header": lambda k, a: bearer(k.stranger.sign(_payload(k), headers={"jwk": k.stranger.public_jwk})),
    # time attacks
    "expired": lambda k, a: bearer(k.token(PV, exp=int(time.time()) - 3600, iat=int(time.time()) - 3900)),
    "nbf-future": lambda k, a: bearer(k.token(PV, nbf=int(time.time()) + 3600, exp=int(time.time()) + 3700)),
    "iat-future": lambda k, a: bearer(k.token(PV, iat=int(time.time()) + 3600, exp=int(time.time()) + 3700)),
    "exp-missing": lambda k, a: bearer(k.token(PV, exp=DROP)),
    "iat-missing": lambda k, a: bearer(k.token(PV, iat=DROP)),
    "lifetime-too-long": lambda k, a: bearer(k.token(PV, exp=int(time.time()) + 30 * 86400)),
    "exp-as-string": lambda k, a: bearer(k.token(PV, exp="9999999999")),
    # audience attacks
    "aud-wrong-host": lambda k, a: bearer(k.token(PV, aud="https://evil.example" + PV)),
    "aud-missing": lambda k, a: bearer(k.token(PV, aud=DROP)),
    "aud-discovery-endpoint": lambda k, a: bearer(k.token(DISCOVERY)),
    "aud-feedback-endpoint": lambda k, a: bearer(k.token(FEEDBACK)),
    "aud-other-service": lambda k, a: bearer(k.token(OR)),
    "aud-prefix-only": lambda k, a: bearer(k.token(PV, aud=PUBLIC_BASE)),
    "aud-with-query": lambda k, a: bearer(k.token(PV, aud=PUBLIC_BASE + PV + "?x=1")),
    # issuer attacks
    "untrusted-iss": lambda k, a: bearer(k.stranger.sign(_payload(k, iss="https://evil.example"))),
    "untrusted-iss-honest-key": lambda k, a: bearer(k.token(PV, iss="https://evil.example")),
    "iss-missing": lambda k, a: bearer(k.token(PV, iss=DROP)),
    "jti-missing": lambda k, a: bearer(k.token(PV, jti=DROP)),
    # size and placement
    "oversized-token": lambda k, a: bearer(k.token(PV, pad="x" * 20_000)),
    "garbage-token": lambda k, a: bearer("not.a.jwt"),
    "two-segment-token": lambda k, a: bearer(b64url_json({"alg": "ES384"}) + "." + b64url_json(_payload(k))),
    "wrong-header-x-authorization": lambda k, a: {"X-Authorization": "Bearer " + k.token(PV)},
    "wrong-scheme-basic": lambda k, a: {"Authorization": "Basic " + k.token(PV)},
    "wrong-scheme-token": lambda k, a: {"Authorization": "Token " + k.token(PV)},
    "no-scheme": lambda k, a: {"Authorization": k.token(PV)},
    "cookie": lambda k, a: {"Cookie": "access_token=" + k.token(PV)},
    "proxy-authorization": lambda k, a: {"Proxy-Authorization": "Bearer " + k.token(PV)},
}


# Why each attack must be refused (the service logs the reason; the client never sees it).  Checking
# the reason proves the 401 came from the defence under test and not from an unrelated slip.
REASON = {
    "alg-none": "algorithm not allowed", "alg-None-case": "algorithm not allowed",
    "hs256-public-pem-as-secret": "algorithm not allowed", "hs256-rsa-public-pem-as-secret": "algorithm not allowed",
    "hs384-jwk-json-as-secret": "algorithm not allowed", "unknown-kid": "unknown kid",
    "known-kid-wrong-key": "InvalidSignature", "tampered-claims": "InvalidSignature",
    "rs-token-under-ec-kid": "key is not for this algorithm", "no-kid": "no kid",
    "jku-off-allowlist": "jku not on the issuer's allowlist",
    "jku-off-allowlist-known-kid": "jku not on the issuer's allowlist",
    "x5u-header": "unknown kid", "embedded-jwk-header": "unknown kid",
    "expired": "expired", "nbf-future": "not yet valid", "iat-future": "not yet valid",
    "exp-missing": "MissingRequiredClaim", "iat-missing": "MissingRequiredClaim",
    "lifetime-too-long": "lifetime too long", "exp-as-string": "not numeric",
    "aud-wrong-host": "wrong aud", "aud-missing": "MissingRequiredClaim", "aud-discovery-endpoint": "wrong aud",
    "aud-feedback-endpoint": "wrong aud", "aud-other-service": "wrong aud", "aud-prefix-only": "wrong aud",
    "aud-with-query": "wrong aud", "untrusted-iss": "untrusted issuer", "untrusted-iss-honest-key": "untrusted issuer",
    "iss-missing": "untrusted issuer", "jti-missing": "MissingRequiredClaim", "oversized-token": "too long",
    "garbage-token": "malformed", "two-segment-token": "malformed",
    "wrong-header-x-authorization": "no bearer token", "wrong-scheme-basic": "no bearer token",
    "wrong-scheme-token": "no bearer token", "no-scheme": "no bearer token", "cookie": "no bearer token",
    "proxy-authorization": "no bearer token",
}


def test_every_attack_has_an_expected_reason():
    assert set(REASON) == set(ATTACKS)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_is_refused(kit, client, attacker_server, figures, caplog, attack):
    attacker_server.record_body = jwks(kit.stranger)  # what an attacker's jku would serve
    headers = ATTACKS[attack](kit, attacker_server.url)
    with caplog.at_level("INFO", logger="cds_service"):
        assert_refused(pv_call(client, headers))
    reasons = [json.loads(r.getMessage()).get("reason", "") for r in caplog.records
               if '"auth_failed"' in r.getMessage()]
    assert len(reasons) == 1 and REASON[attack] in reasons[0], reasons
    figures.add("jwt_attacks")
    assert attacker_server.hit_count() == 0, f"{attack}: the service fetched from the attacker's URL"


def test_token_in_query_string_is_refused(kit, client):
    assert_refused(pv_call(client, query_string={"access_token": kit.token(PV)}))


def test_token_only_in_fhir_authorization_is_refused(kit, client):
    body = hook_request(prefetch=full_prefetch(), fhir_server="http://127.0.0.1:1/fhir", fhir_token=kit.token(PV))
    assert_refused(client.post(PV, json=body))


@pytest.mark.parametrize("path,method", [(DISCOVERY, "get"), (FEEDBACK, "post"), (OR, "post")])
def test_every_endpoint_requires_a_token(kit, client, path, method):
    assert_refused(getattr(client, method)(path, json={}))
    other_aud = bearer(kit.token(PV))  # a token for another endpoint
    assert_refused(getattr(client, method)(path, json={}, headers=other_aud))


def test_refusals_look_the_same(kit, client, attacker_server):
    """A caller learns nothing from a 401: every attack gets byte-identical bodies and headers."""
    bodies = set()
    for name in ("alg-none", "expired", "aud-other-service", "untrusted-iss", "unknown-kid"):
        resp = pv_call(client, ATTACKS[name](kit, attacker_server.url))
        bodies.add((resp.status_code, resp.get_data(), resp.headers.get("WWW-Authenticate")))
    assert len(bodies) == 1


def test_unknown_kid_flood_does_not_hammer_the_issuer_jwks(keys, tmp_path, attacker_server):
    """Issuer keys served from a URL: 30 tokens with random kids cause at most one early refresh."""
    ec_key, rsa_key, stranger = keys
    attacker_server.record_body = jwks(ec_key, rsa_key)  # here: the issuer's own, legitimate JWKS URL
    doc = {"issuers": [{"iss": ISSUER, "jwks_url": attacker_server.url + "/jwks.json",
                        "algorithms": ["ES384", "RS384"], "fhir_servers": []}]}
    path = tmp_path / "issuers-url.json"
    path.write_text(json.dumps(doc))
    kit = IssuerKit(ec_key, rsa_key, stranger, path, tmp_path / "unused.json")
    client = make_app(kit, tmp_path).test_client()
    assert pv_call(client, bearer(kit.token(PV))).status_code == 200
    for _ in range(30):
        assert_refused(pv_call(client, bearer(stranger.sign(_payload(kit), kid=uuid.uuid4().hex))))
    assert attacker_server.hit_count() <= 2


def test_allowlisted_jku_is_used_only_for_that_issuer(keys, tmp_path, attacker_server):
    """An allowlisted jku serving a rotated key works; the same jku cannot vouch for another iss."""
    ec_key, rsa_key, stranger = keys
    rotated = SigningKey.ec("ehr-ec-rotated")
    attacker_server.record_body = jwks(rotated)  # stands in for the issuer's jku host
    jku = attacker_server.url + "/.well-known/jwks.json"
    issuers, jwks_path = write_issuers(tmp_path, ec_key=ec_key, rsa_key=rsa_key, fhir_servers=[])
    doc = json.loads(issuers.read_text())
    doc["issuers"][0]["jku"] = [jku, JKU_ALLOWED]
    doc["issuers"].append({"iss": "https://other-ehr.test", "jwks": jwks(stranger), "fhir_servers": []})
    issuers.write_text(json.dumps(doc))
    kit = IssuerKit(ec_key, rsa_key, stranger, issuers, jwks_path)
    client = make_app(kit, tmp_path).test_client()
    assert pv_call(client, bearer(kit.token(PV, key=rotated, headers={"jku": jku}))).status_code == 200
    other = claims(iss="https://other-ehr.test", aud=kit.aud(PV))
    assert_refused(pv_call(client, bearer(rotated.sign(other, headers={"jku": jku}))))


# -- replay ---------------------------------------------------------------------------------------------
def test_replayed_jti_is_refused(kit, client):
    token = kit.token(PV)
    assert pv_call(client, bearer(token)).status_code == 200
    assert_refused(pv_call(client, bearer(token)))
    same_jti = kit.token(PV, jti=json.loads(__import__("base64").urlsafe_b64decode(
        token.split(".")[1] + "==="))["jti"])
    assert_refused(pv_call(client, bearer(same_jti)))  # a fresh signature does not launder a used jti


@pytest.mark.redis
def test_replay_across_two_instances_sharing_redis(kit, tmp_path, redis_url):
    a = make_app(kit, tmp_path, CDS_REDIS_URL=redis_url).test_client()
    b = make_app(kit, tmp_path, CDS_REDIS_URL=redis_url).test_client()
    for first, second in ((a, b), (b, a)):
        token = kit.token(PV)
        assert pv_call(first, bearer(token)).status_code == 200
        assert_refused(pv_call(second, bearer(token)))


@pytest.mark.redis
def test_concurrent_replay_is_accepted_once(kit, tmp_path, redis_url):
    """The same token raced through two instances from 16 threads: exactly one 200."""
    from concurrent.futures import ThreadPoolExecutor

    apps = [make_app(kit, tmp_path, CDS_REDIS_URL=redis_url) for _ in range(2)]
    token = kit.token(DISCOVERY)

    def call(i):
        with apps[i % 2].test_client() as c:
            return c.get(DISCOVERY, headers=bearer(token)).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(call, range(16)))
    assert statuses.count(200) == 1 and statuses.count(401) == 15


def test_unreachable_redis_fails_closed(kit, tmp_path):
    """If the shared replay cache is down the service cannot tell a replay: refuse (503), never 200/500."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    client = make_app(kit, tmp_path, CDS_REDIS_URL=f"redis://127.0.0.1:{dead_port}/0").test_client()
    resp = pv_call(client, bearer(kit.token(PV)))
    assert resp.status_code == 503
    assert "Traceback" not in resp.get_data(as_text=True)


def test_allowlisted_jku_that_redirects_off_host_is_not_followed(keys, tmp_path, fault_server, attacker_server):
    """An open redirect on the issuer's jku host must not let an attacker's JWKS in."""
    ec_key, rsa_key, stranger = keys
    attacker_server.record_body = jwks(stranger)
    fault_server.set_mode("redirect-offhost")  # the allowlisted jku URL answers 302 -> attacker
    jku = fault_server.url + "/.well-known/jwks.json"
    issuers, jwks_path = write_issuers(tmp_path, ec_key=ec_key, rsa_key=rsa_key, fhir_servers=[])
    doc = json.loads(issuers.read_text())
    doc["issuers"][0]["jku"] = [jku]
    issuers.write_text(json.dumps(doc))
    kit = IssuerKit(ec_key, rsa_key, stranger, issuers, jwks_path)
    client = make_app(kit, tmp_path).test_client()
    assert_refused(pv_call(client, bearer(stranger.sign(_payload(kit), headers={"jku": jku}))))
    assert attacker_server.hit_count() == 0
