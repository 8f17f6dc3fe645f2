"""EHR authentication (CDS Hooks 2.0 "Trusting CDS Clients"): every rejection path is a bare 401."""
import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
import responses

from svc_helpers import (FEEDBACK, FHIR, ISSUER, JKU, ORDER, PUBLIC_BASE, PV, Key, bearer, full_prefetch,
                         hook_request, write_issuers)


@pytest.fixture(scope="module")
def keys():
    return {"ec": Key.ec384("ec-1"), "rsa": Key.rsa("rsa-1"), "stranger": Key.ec384("stranger-1"),
            "rs256": Key.rsa("rsa-256", alg="RS256")}


@pytest.fixture
def issuers_file(tmp_path, keys):
    return write_issuers(tmp_path, [keys["ec"], keys["rsa"], keys["rs256"]], jku=[JKU])


@pytest.fixture
def auth_client(make_client, issuers_file, spy):
    return make_client(CDS_AUTH="jwt", CDS_TRUSTED_ISSUERS=str(issuers_file), CDS_PUBLIC_BASE_URL=PUBLIC_BASE,
                       CDS_EVALUATOR=spy)


def call(client, token, path=PV, body=None):
    return client.post(path, json=body or hook_request(prefetch=full_prefetch()), headers=bearer(token))


def assert_401(resp):
    assert resp.status_code == 401, resp.get_data(as_text=True)
    assert resp.get_json() == {"error": "unauthorized"}
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("which", ["ec", "rsa", "rs256"])
def test_valid_tokens_es384_rs384_rs256_are_accepted(auth_client, keys, which):
    resp = call(auth_client, keys[which].token(PUBLIC_BASE + PV))
    assert resp.status_code == 200, resp.get_data(as_text=True)


def test_discovery_service_and_feedback_all_need_a_token(auth_client, keys):
    assert_401(auth_client.get("/cds-services"))
    assert_401(auth_client.post(PV, json=hook_request()))
    assert_401(auth_client.post(FEEDBACK, json={"feedback": []}))
    assert auth_client.get("/cds-services", headers=bearer(keys["ec"].token(PUBLIC_BASE + "/cds-services"))
                           ).status_code == 200


def test_extra_claims_like_sub_nbf_and_tenant_are_accepted(auth_client, keys):
    now = int(time.time())
    token = keys["rsa"].token(PUBLIC_BASE + PV, sub="epic-client", nbf=now - 300, tenant="t1")
    assert call(auth_client, token).status_code == 200


def test_aud_as_a_list_containing_the_url_is_accepted(auth_client, keys):
    token = keys["ec"].token([PUBLIC_BASE + PV, "https://other"])
    assert call(auth_client, token).status_code == 200


def _hs256_token(aud):
    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "aud": aud, "exp": now + 300, "iat": now, "jti": uuid.uuid4().hex},
                      "a-shared-secret-that-is-long-enough-for-hmac", algorithm="HS256", headers={"kid": "ec-1"})


def _none_token(aud):
    now = int(time.time())
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': 'none', 'typ': 'JWT', 'kid': 'ec-1'})}." \
           f"{enc({'iss': ISSUER, 'aud': aud, 'exp': now + 300, 'iat': now, 'jti': 'x'})}."


def _key_confusion_token(keys, aud):
    """HS384 signed with the EC public key's PEM as the secret (classic alg confusion)."""
    from cryptography.hazmat.primitives import serialization

    pem = keys["ec"].private.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS384", "typ": "JWT", "kid": "ec-1"}
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": aud, "exp": now + 300, "iat": now, "jti": uuid.uuid4().hex}
    import hashlib
    import hmac

    enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    signing = f"{enc(json.dumps(header).encode())}.{enc(json.dumps(payload).encode())}"
    return signing + "." + enc(hmac.new(pem, signing.encode(), hashlib.sha384).digest())


@pytest.mark.parametrize("attack", [
    "hs256", "none", "key-confusion", "wrong-aud", "aud-of-other-endpoint", "expired", "iat-future", "nbf-future",
    "untrusted-iss", "stranger-key", "jku-not-allowed", "no-kid", "unknown-kid", "missing-jti", "missing-exp",
    "lifetime-too-long", "garbage", "not-bearer", "wrong-typ", "tampered",
])
def test_rejections(auth_client, keys, attack):
    aud = PUBLIC_BASE + PV
    now = int(time.time())
    ec = keys["ec"]
    token = {
        "hs256": lambda: _hs256_token(aud),
        "none": lambda: _none_token(aud),
        "key-confusion": lambda: _key_confusion_token(keys, aud),
        "wrong-aud": lambda: ec.token("https://cds.example.org/cds-services/other"),
        "aud-of-other-endpoint": lambda: ec.token(PUBLIC_BASE + ORDER),
        "expired": lambda: ec.token(aud, exp=now - 600, iat=now - 900),
        "iat-future": lambda: ec.token(aud, iat=now + 600, exp=now + 900),
        "nbf-future": lambda: ec.token(aud, nbf=now + 600),
        "untrusted-iss": lambda: ec.token(aud, iss="https://evil.example.com"),
        "stranger-key": lambda: Key(ec.kid, "ES384", keys["stranger"].private).token(aud),
        "jku-not-allowed": lambda: ec.token(aud, headers={"jku": "https://evil.example.com/jwks.json"}),
        "no-kid": lambda: jwt.encode({"iss": ISSUER, "aud": aud, "exp": now + 60, "iat": now, "jti": "j"},
                                     ec.private, algorithm="ES384"),
        "unknown-kid": lambda: Key("nobody", "ES384", ec.private).token(aud),
        "missing-jti": lambda: ec.token(aud, jti=None),
        "missing-exp": lambda: ec.token(aud, exp=None),
        "lifetime-too-long": lambda: ec.token(aud, exp=now + 7 * 24 * 3600),
        "garbage": lambda: "not.a.jwt",
        "not-bearer": lambda: None,
        "wrong-typ": lambda: ec.token(aud, headers={"typ": "at+jwt"}),
        "tampered": lambda: (lambda t: t.split(".")[0] + "." + base64.urlsafe_b64encode(json.dumps(
            {"iss": ISSUER, "aud": aud, "exp": now + 60, "iat": now, "jti": "z", "sub": "admin"}).encode()
        ).rstrip(b"=").decode() + "." + t.split(".")[2])(ec.token(aud)),
    }[attack]()
    if token is None:
        resp = auth_client.post(PV, json=hook_request(), headers={"Authorization": "Basic dXNlcjpwYXNz"})
    else:
        resp = call(auth_client, token)
    assert_401(resp)


def test_replayed_jti_is_rejected(auth_client, keys):
    token = keys["ec"].token(PUBLIC_BASE + PV)
    assert call(auth_client, token).status_code == 200
    assert_401(call(auth_client, token))
    # same jti in a fresh token is a replay too
    jti = uuid.uuid4().hex
    assert call(auth_client, keys["ec"].token(PUBLIC_BASE + PV, jti=jti)).status_code == 200
    assert_401(call(auth_client, keys["rsa"].token(PUBLIC_BASE + PV, jti=jti)))


def test_aud_comes_from_the_public_base_url_not_the_request_host(auth_client, keys):
    # the test client calls http://localhost/...; the token names the public URL and is accepted
    assert call(auth_client, keys["ec"].token(PUBLIC_BASE + PV)).status_code == 200
    assert_401(call(auth_client, keys["ec"].token("http://localhost" + PV)))
    assert_401(auth_client.post(PV, json=hook_request(), headers={
        **bearer(keys["ec"].token("http://proxy.internal" + PV)), "Host": "proxy.internal"}))


def test_all_rejections_look_the_same_and_the_token_is_never_logged(auth_client, keys, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="cds_service")
    token = keys["ec"].token("https://wrong")
    bodies = {call(auth_client, token).get_data(), call(auth_client, _hs256_token(PUBLIC_BASE + PV)).get_data()}
    assert len(bodies) == 1
    assert token not in caplog.text and token.split(".")[2] not in caplog.text
    assert "wrong aud" in caplog.text  # the reason is logged for operators


def test_cors_preflight_needs_no_token(auth_client):
    resp = auth_client.options(PV, headers={"Origin": "https://x", "Access-Control-Request-Method": "POST"})
    assert 200 <= resp.status_code < 300


@responses.activate
def test_allowlisted_jku_is_fetched_for_an_unknown_kid(make_client, tmp_path, keys, spy):
    rotated = Key.ec384("rotated-1")
    responses.add(responses.GET, JKU, json={"keys": [rotated.public_jwk()]})
    issuers = write_issuers(tmp_path, [keys["ec"]], jku=[JKU])
    client = make_client(CDS_AUTH="jwt", CDS_TRUSTED_ISSUERS=str(issuers), CDS_PUBLIC_BASE_URL=PUBLIC_BASE,
                         CDS_EVALUATOR=spy)
    assert call(client, rotated.token(PUBLIC_BASE + PV, headers={"jku": JKU})).status_code == 200
    assert call(client, rotated.token(PUBLIC_BASE + PV, headers={"jku": JKU})).status_code == 200
    assert len(responses.calls) == 1  # cached
    # a configured key with an allowlisted jku never needs the network
    assert call(client, keys["ec"].token(PUBLIC_BASE + PV, headers={"jku": JKU})).status_code == 200
    assert len(responses.calls) == 1


def test_jku_not_on_allowlist_is_never_contacted(make_client, tmp_path, keys, spy):
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            body = json.dumps({"keys": [keys["stranger"].public_jwk()]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        evil = f"http://127.0.0.1:{server.server_port}/jwks.json"
        issuers = write_issuers(tmp_path, [keys["ec"]], jku=[JKU])
        client = make_client(CDS_AUTH="jwt", CDS_TRUSTED_ISSUERS=str(issuers), CDS_PUBLIC_BASE_URL=PUBLIC_BASE,
                             CDS_EVALUATOR=spy)
        assert_401(call(client, keys["stranger"].token(PUBLIC_BASE + PV, headers={"jku": evil})))
        assert hits == []
    finally:
        server.shutdown()


def test_issuer_fhir_servers_bound_the_fhir_server_a_client_may_send(auth_client, keys, spy):
    ok = hook_request(prefetch=full_prefetch(), fhir_server=FHIR, token="t")
    assert call(auth_client, keys["ec"].token(PUBLIC_BASE + PV), body=ok).status_code == 200
    bad = hook_request(prefetch=full_prefetch(), fhir_server="https://other-fhir.example.org/r4", token="t")
    resp = call(auth_client, keys["ec"].token(PUBLIC_BASE + PV), body=bad)
    assert resp.status_code == 403 and len(spy.calls) == 1


def test_issuer_algorithms_subset_is_enforced(make_client, tmp_path, keys, spy):
    path = tmp_path / "issuers.json"
    write_issuers(tmp_path, [keys["ec"], keys["rsa"]])
    doc = json.loads(path.read_text())
    doc["issuers"][0]["algorithms"] = ["ES384"]
    path.write_text(json.dumps(doc))
    client = make_client(CDS_AUTH="jwt", CDS_TRUSTED_ISSUERS=str(path), CDS_PUBLIC_BASE_URL=PUBLIC_BASE,
                         CDS_EVALUATOR=spy)
    assert call(client, keys["ec"].token(PUBLIC_BASE + PV)).status_code == 200
    assert_401(call(client, keys["rsa"].token(PUBLIC_BASE + PV)))


@pytest.mark.parametrize("doc, message", [
    ({"issuers": [{"iss": "x"}]}, "exactly one of"),
    ({"issuers": [{"iss": "x", "jwks_file": "missing.json"}]}, "does not exist"),
    ({"issuers": [{"iss": "x", "jwks": {"keys": []}, "algorithms": ["HS256"]}]}, "asymmetric"),
    ({"nope": []}, "issuers"),
])
def test_bad_issuers_files_fail_at_start_up(tmp_path, doc, message):
    from cds_service import create_app
    from cds_service.settings import SettingsError

    path = tmp_path / "issuers.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SettingsError, match=message):
        create_app({"CDS_AUTH": "jwt", "CDS_TRUSTED_ISSUERS": str(path),
                    "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_in_process_replay_cache_is_shared_by_threads_of_one_app(auth_client, keys):
    token = keys["ec"].token(PUBLIC_BASE + PV)
    results = []

    def go():
        results.append(call(auth_client, token).status_code)

    threads = [threading.Thread(target=go) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results) == [200] + [401] * 5


SANDBOX_TEST_KEY_D = "yOcYl9QzMKnBFUiPZKBijDV_lsEtn6oWFVOqtFyXbY_-V63WCBYYdxsLo9Pclr84"  # published test key
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"


def test_the_shipped_sandbox_issuers_file_trusts_a_sandbox_signed_token(make_client, spy):
    """The Sandbox's committed ES384 key (github.com/cds-hooks/sandbox keys/jwk-keypair.json) signs a
    token exactly as its jwt-generator does; the example issuers file accepts it offline."""
    from importlib import resources

    from cryptography.hazmat.primitives.asymmetric import ec

    data = resources.files("cds_service").joinpath("data")
    issuers = str(data.joinpath("sandbox-issuers.example.json"))
    public = json.loads(data.joinpath("cds-hooks-sandbox-jwks.json").read_text())["keys"][0]
    d = int.from_bytes(base64.urlsafe_b64decode(SANDBOX_TEST_KEY_D + "=="), "big")
    private = ec.derive_private_key(d, ec.SECP384R1())
    derived = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    assert (derived["x"], derived["y"]) == (public["x"], public["y"])  # transcription check

    base = "http://127.0.0.1:8080"
    client = make_client(CDS_AUTH="jwt", CDS_TRUSTED_ISSUERS=issuers, CDS_PUBLIC_BASE_URL=base, CDS_EVALUATOR=spy)
    now = int(time.time())
    token = jwt.encode({"iss": "https://sandbox.cds-hooks.org", "aud": base + PV, "exp": now + 300, "iat": now,
                        "jti": str(uuid.uuid4())}, private, algorithm="ES384",
                       headers={"typ": "JWT", "kid": SANDBOX_KID,
                                "jku": "https://sandbox.cds-hooks.org/.well-known/jwks.json"})
    body = hook_request(prefetch=full_prefetch(), fhir_server="http://127.0.0.1:8080/demo/fhir")
    assert call(client, token, body=body).status_code == 200


def test_rotated_key_in_the_jwks_file_is_picked_up_after_the_cache_ttl(make_client, tmp_path, keys, spy):
    issuers = write_issuers(tmp_path, [keys["ec"]])
    client = make_client(CDS_AUTH="jwt", CDS_TRUSTED_ISSUERS=str(issuers), CDS_PUBLIC_BASE_URL=PUBLIC_BASE,
                         CDS_EVALUATOR=spy, CDS_JWKS_CACHE_SECONDS="0")
    assert call(client, keys["ec"].token(PUBLIC_BASE + PV)).status_code == 200
    rotated = Key.ec384("ec-2")
    (tmp_path / "ehr-jwks.json").write_text(json.dumps({"keys": [rotated.public_jwk()]}))
    assert call(client, rotated.token(PUBLIC_BASE + PV)).status_code == 200
    assert_401(call(client, keys["ec"].token(PUBLIC_BASE + PV)))  # the retired key is gone


def test_jwks_file_is_cached_within_the_ttl(make_client, tmp_path, keys, spy):
    issuers = write_issuers(tmp_path, [keys["ec"]])
    client = make_client(CDS_AUTH="jwt", CDS_TRUSTED_ISSUERS=str(issuers), CDS_PUBLIC_BASE_URL=PUBLIC_BASE,
                         CDS_EVALUATOR=spy, CDS_JWKS_CACHE_SECONDS="3600")
    assert call(client, keys["ec"].token(PUBLIC_BASE + PV)).status_code == 200
    (tmp_path / "ehr-jwks.json").write_text(json.dumps({"keys": []}))
    assert call(client, keys["ec"].token(PUBLIC_BASE + PV)).status_code == 200  # served from the cache
