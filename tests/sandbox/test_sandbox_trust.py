"""Trusting the Sandbox offline: its JWTs verify against the JWKS pinned from a local file; its
internet `jku` is accepted but never fetched; a Sandbox build signing with another key gets 401.

The key and JWT header come from the prebuilt bundle itself (app.bundle.js embeds the private key),
so this checks the shipped cds-hooks-sandbox-jwks.json against the very build the browser tests run.
"""
from __future__ import annotations

import json
import time
import uuid
from importlib import resources

import jwt
import pytest
import responses

from sbx_bundle import bundle_signer

DATA = resources.files("cds_service").joinpath("data")
ISSUERS = str(DATA.joinpath("sandbox-issuers.example.json"))
BASE = "http://127.0.0.1:8080"


@pytest.fixture(scope="module")
def signer(sandbox_dir):
    return bundle_signer(sandbox_dir)


@pytest.fixture()
def fetches(monkeypatch):
    """Every JWKS URL fetch the service attempts (none may happen)."""
    calls: list[str] = []

    def refuse(url):
        calls.append(url)
        raise AssertionError(f"the service fetched a JWKS URL: {url}")

    monkeypatch.setattr("cds_service.issuers._fetch_jwks", refuse)
    return calls


@pytest.fixture()
def client(tmp_path, monkeypatch):
    from cds_service import create_app
    from cds_service.settings import ENV_VARS

    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    app = create_app({"CDS_AUTH": "jwt", "CDS_TRUSTED_ISSUERS": ISSUERS, "CDS_PUBLIC_BASE_URL": BASE,
                      "CDS_DEMO": "1", "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/trust.sqlite3"})
    yield app.test_client()
    app.extensions["cds_fhir_executor"].shutdown(wait=False, cancel_futures=True)


def sandbox_token(key, aud: str, *, kid: str, jku: str | None, iss: str, alg: str = "ES384") -> str:
    """A token exactly as the Sandbox's jwt-generator makes it (iss, aud, exp = iat + 300, iat, jti)."""
    now = int(time.time())
    headers = {"typ": "JWT", "kid": kid}
    if jku is not None:
        headers["jku"] = jku
    return jwt.encode({"iss": iss, "aud": aud, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())},
                      key, algorithm=alg, headers=headers)


def test_the_shipped_jwks_holds_the_key_this_sandbox_build_signs_with(signer, sandbox_dir):
    assert (signer.iss, signer.alg) == ("https://sandbox.cds-hooks.org", "ES384")
    public = signer.public_jwk()
    shipped = {k["kid"]: k for k in json.loads(DATA.joinpath("cds-hooks-sandbox-jwks.json").read_text())["keys"]}
    assert signer.kid in shipped
    assert (shipped[signer.kid]["x"], shipped[signer.kid]["y"], shipped[signer.kid]["crv"]) == \
        (public["x"], public["y"], "P-384")
    assert shipped[signer.kid]["alg"] == signer.alg
    served = json.loads((sandbox_dir / ".well-known" / "jwks.json").read_text())["keys"]  # the build's own copy
    assert [(k["kid"], k["x"], k["y"]) for k in served] == [(signer.kid, public["x"], public["y"])]


def test_the_issuers_file_trusts_the_bundles_iss_and_pins_its_jku(signer):
    from cds_service.issuers import load_issuers

    issuer = load_issuers(ISSUERS, ttl=300)[signer.iss]
    assert signer.jku in issuer.jku and issuer.pinned_jku(signer.jku) is not None
    assert issuer.keys.url is None and issuer.pinned_jku(signer.jku).url is None  # files only


@responses.activate  # any outbound HTTP request from the service would raise ConnectionError
def test_sandbox_tokens_verify_offline_and_other_keys_get_401(client, signer, fetches):
    from cryptography.hazmat.primitives.asymmetric import ec

    aud = BASE + "/cds-services"
    own = signer.private_key()
    other = ec.generate_private_key(ec.SECP384R1())
    cases = {
        "this build": (own, signer.kid, signer.jku, signer.iss, 200),
        "this build, no jku": (own, signer.kid, None, signer.iss, 200),
        "another build: same kid, other key": (other, signer.kid, signer.jku, signer.iss, 401),
        "another build: other kid, pinned jku": (other, "another-sandbox-build", signer.jku, signer.iss, 401),
        "other key, jku off the allowlist": (other, signer.kid, "https://evil.example/jwks.json", signer.iss, 401),
        "this key, another iss": (own, signer.kid, signer.jku, "https://sandbox.cds-hooks.org.evil", 401),
    }
    results = {}
    for name, (key, kid, jku, iss, _) in cases.items():
        token = sandbox_token(key, aud, kid=kid, jku=jku, iss=iss)
        resp = client.get("/cds-services", headers={"Authorization": f"Bearer {token}"})
        results[name] = resp.status_code
        if resp.status_code == 401:
            assert resp.get_json() == {"error": "unauthorized"}
    assert results == {name: case[-1] for name, case in cases.items()}
    assert fetches == [] and len(responses.calls) == 0  # the internet jku was never contacted


def test_a_pinned_jku_needs_an_existing_file(tmp_path):
    from cds_service.issuers import load_issuers
    from cds_service.settings import SettingsError

    path = tmp_path / "issuers.json"
    path.write_text(json.dumps({"issuers": [{"iss": "x", "jwks": {"keys": []},
                                             "jku": {"https://x/jwks.json": "missing.json"}}]}))
    with pytest.raises(SettingsError, match="pinned JWKS file"):
        load_issuers(str(path), ttl=300)
    path.write_text(json.dumps({"issuers": [{"iss": "x", "jwks": {"keys": []}, "jku": {"https://x/jwks.json": 3}}]}))
    with pytest.raises(SettingsError, match="local JWKS file"):
        load_issuers(str(path), ttl=300)


def test_make_sandbox_is_one_command_running_the_launcher():
    from sbx_stack import REPO

    makefile = (REPO / "Makefile").read_text()
    assert "\nsandbox: install\n\t$(BIN)/python -m demo.sandbox " in makefile
    assert "SANDBOX_DIR ?= ../shared/tools/cds-hooks-sandbox" in makefile
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Registering in the CDS Hooks Sandbox", 1)[1].split("\n## ", 1)[0]
    assert "make sandbox" in section and "docs/img/sandbox-patient-view.png" in section
    assert (REPO / "docs" / "img" / "sandbox-patient-view.png").stat().st_size < 400_000
