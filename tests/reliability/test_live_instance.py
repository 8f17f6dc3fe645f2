"""The same promises over a real socket: `omalizumab-cds serve` (gunicorn) in front of the app.

In-process tests cannot see what gunicorn does before Flask: header and request-line limits, chunked
bodies, keep-alive.  One instance (SQLite, JWT auth) is started for the module.
"""
from __future__ import annotations

import json
import socket

import pytest
import requests

from rel_instances import Instance, start_instance
from rel_jwt import ISSUER, SigningKey, bearer, claims, write_issuers
from rel_requests import SECRET_FAMILY, full_prefetch, hook_request

PV = "/cds-services/omalizumab-patient-view"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    d = tmp_path_factory.mktemp("live")
    key = SigningKey.ec("live-ec")
    issuers, _ = write_issuers(d, ec_key=key, rsa_key=SigningKey.rsa("live-rsa"), fhir_servers=[])
    inst = start_instance("live", {"CDS_AUTH": "jwt", "CDS_TRUSTED_ISSUERS": str(issuers),
                                   "CDS_DATABASE_URL": f"sqlite:///{d}/live.sqlite3", "CDS_CLOCK": "2025-06-01",
                                   "CDS_MAX_BODY_BYTES": "262144"}, d, workers=1, threads=4)
    try:
        inst.wait_ready()
        yield inst, key
    finally:
        inst.stop()


def tok(inst: Instance, key: SigningKey, path: str = PV, **extra) -> dict:
    return bearer(key.sign(claims(iss=ISSUER, aud=inst.base + path, **extra)))


def test_honest_call_over_http(live):
    inst, key = live
    r = requests.post(inst.base + PV, json=hook_request(prefetch=full_prefetch()), headers=tok(inst, key), timeout=15)
    assert r.status_code == 200 and isinstance(r.json()["cards"], list)
    assert r.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("pad", [12_000, 40_000])
def test_oversized_token_is_refused_before_or_by_the_app(live, pad):
    inst, key = live
    r = requests.post(inst.base + PV, json=hook_request(prefetch=full_prefetch()),
                      headers=tok(inst, key, pad="x" * pad), timeout=15)
    assert r.status_code in (400, 401, 431), r.status_code  # gunicorn's header limit or the app's 401
    assert "Traceback" not in r.text


def test_body_over_the_limit_is_413_json(live):
    inst, key = live
    body = hook_request(prefetch=full_prefetch())
    body["extension"] = {"org.example.pad": "x" * 300_000}
    r = requests.post(inst.base + PV, data=json.dumps(body), headers={**tok(inst, key),
                                                                      "Content-Type": "application/json"}, timeout=15)
    assert r.status_code == 413 and r.json()["error"]


def test_chunked_body_over_the_limit_is_refused(live):
    """No Content-Length: the limit must still hold while streaming."""
    inst, key = live

    def gen():
        yield b'{"hook": "patient-view", "pad": "'
        for _ in range(64):
            yield b"x" * 8192
        yield b'"}'

    r = requests.post(inst.base + PV, data=gen(), headers={**tok(inst, key), "Content-Type": "application/json"},
                      timeout=15)
    assert r.status_code in (400, 413), r.status_code
    assert "Traceback" not in r.text


def test_garbage_on_the_socket_does_not_hurt_the_next_caller(live):
    inst, key = live
    for junk in (b"\x00\xff" * 100 + b"\r\n\r\n", b"GET /" + b"A" * 10_000 + b" HTTP/1.1\r\n\r\n",
                 b"POST /cds-services HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n{"):
        with socket.create_connection(("127.0.0.1", inst.port), timeout=5) as s:
            s.sendall(junk)
            s.settimeout(5)
            try:
                s.recv(4096)
            except OSError:
                pass
    r = requests.get(inst.base + "/cds-services", headers=tok(inst, key, "/cds-services"), timeout=10)
    assert r.status_code == 200


def test_live_logs_are_clean(live):
    inst, key = live
    t = tok(inst, key)
    requests.post(inst.base + PV, json=hook_request(prefetch=full_prefetch()), headers=t, timeout=15)
    requests.post(inst.base + PV, json=hook_request(prefetch=full_prefetch()), headers=t, timeout=15)  # replay
    log = inst.log_text()
    assert '"event":"request"' in log  # one compact JSON line per request (request_log.py)
    assert t["Authorization"][7:] not in log and "eyJ" not in log
    assert SECRET_FAMILY not in log
    assert "Traceback" not in log
