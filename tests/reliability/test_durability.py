"""Durability under load (issue 8, item 6), with real processes, PostgreSQL and Redis.

Two `omalizumab-cds serve` instances (gunicorn, 2 sync workers each: serve's default) share a fresh PostgreSQL
database and Redis (jti replay cache).  A thread pool POSTs thousands of feedback entries, each with
its own JWT, alternating between the instances; mid-load one gunicorn worker of each instance is
killed with SIGKILL.  The client retries a POST that got no answer (same body, new token) the way an
EHR would.  Then the database is counted: every entry acknowledged with a 2xx is stored exactly
once, nothing is stored twice, nothing unknown appears.

A database outage (connections terminated and refused) must give 503 on feedback (not 500, not a
silent 200) while the clinical answer still goes out, and the service must recover by itself.
"""
from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from rel_env import LONG, PG_HOST, PG_PORT
from rel_instances import Instance, start_instance
from rel_jwt import ISSUER, SigningKey, bearer, claims, write_issuers
from rel_requests import SECRET_FAMILY, SECRET_GIVEN, full_prefetch, hook_request

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

FEEDBACK_PATH = "/cds-services/omalizumab-patient-view/feedback"
PV_PATH = "/cds-services/omalizumab-patient-view"
POSTS = 10_000 if LONG else 1_200
CONCURRENCY = 24


@pytest.fixture(scope="module")
def key():
    return SigningKey.ec("durability-ec")


@pytest.fixture
def issuers_file(key, tmp_path):
    path, _ = write_issuers(tmp_path, ec_key=key, rsa_key=SigningKey.rsa("durability-rsa"), fhir_servers=[])
    return path


@pytest.fixture
def instances(request, tmp_path):
    started: list[Instance] = []

    def start(name: str, env: dict[str, str], **kw) -> Instance:
        inst = start_instance(name, env, tmp_path, **kw)
        started.append(inst)
        inst.wait_ready()
        return inst

    yield start
    for inst in started:
        inst.stop()


def db_url(name: str) -> str:
    return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"


def count_rows(dbname: str) -> dict[str, int]:
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname=dbname) as conn:
        return dict(conn.execute("SELECT card_uuid, count(*) FROM feedback GROUP BY card_uuid").fetchall())


def token_for(key: SigningKey, inst: Instance, path: str) -> str:
    return key.sign(claims(iss=ISSUER, aud=inst.base + path))


def feedback_entries(n: int) -> list[dict]:
    return [{"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2025-06-01T10:05:31Z",
             "overrideReason": {"reason": {"system": "http://omalizumab-cds.org/CodeSystem/override-reason",
                                           "code": "clinical-judgement", "display": "Clinical judgement"},
                                "userComment": "load test"}} for _ in range(n)]


class Load:
    """Bounded concurrent feedback POSTs with retries; records what each 2xx acknowledged."""

    def __init__(self, key: SigningKey, targets: list[Instance]) -> None:
        self.key = key
        self.targets = targets
        self.acknowledged: list[str] = []
        self.attempted: set[str] = set()
        self.requests = 0
        self.statuses: dict[int | str, int] = {}
        self.done = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
        return s

    def _count(self, status: int | str) -> None:
        with self._lock:
            self.requests += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def post(self, i: int) -> None:
        entries = feedback_entries(1 + i % 3)
        cards = [e["card"] for e in entries]
        with self._lock:
            self.attempted.update(cards)
        body = json.dumps({"feedback": entries})
        for attempt in range(6):  # an EHR retries a POST that got no answer; dedup makes that safe
            inst = self.targets[(i + attempt) % len(self.targets)]
            headers = {"Content-Type": "application/json", **bearer(token_for(self.key, inst, FEEDBACK_PATH))}
            try:
                resp = self._session().post(inst.base + FEEDBACK_PATH, data=body, headers=headers, timeout=20)
            except requests.RequestException as exc:
                self._count(type(exc).__name__)
                self._local.session = None
                time.sleep(0.05 * (attempt + 1))
                continue
            self._count(resp.status_code)
            if 200 <= resp.status_code < 300:
                with self._lock:
                    self.acknowledged.extend(cards)
                break
            assert resp.status_code in (502, 503), (resp.status_code, resp.text[:300])
            time.sleep(0.05 * (attempt + 1))
        with self._lock:
            self.done += 1

    def run(self, n: int, concurrency: int, at_fraction=None) -> None:
        """POST n bodies; call each `(fraction, fn)` once when that share of the POSTs is done."""
        pending = sorted(at_fraction or [], key=lambda p: p[0])
        with ThreadPoolExecutor(concurrency) as pool:
            futures = [pool.submit(self.post, i) for i in range(n)]
            while pending:
                fraction, fn = pending[0]
                if self.done >= fraction * n:
                    fn()
                    pending.pop(0)
                elif all(f.done() for f in futures):
                    break
                else:
                    time.sleep(0.01)
            for f in futures:
                f.result()


def test_two_instances_lose_nothing_acknowledged_under_load_and_sigkill(
        key, issuers_file, fresh_pg_database, redis_url, instances, figures):
    env = {"CDS_AUTH": "jwt", "CDS_TRUSTED_ISSUERS": str(issuers_file), "CDS_DATABASE_URL": db_url(fresh_pg_database),
           "CDS_REDIS_URL": redis_url}
    a = instances("instance-a", env)
    b = instances("instance-b", env)
    load = Load(key, [a, b])
    killed: list[int] = []

    def kill_worker(inst: Instance):
        def fn():
            pids = inst.worker_pids()
            assert pids, f"no gunicorn workers found for {inst.name}"
            import os

            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])
        return fn

    t0 = time.monotonic()
    load.run(POSTS, CONCURRENCY, at_fraction=[(0.3, kill_worker(a)), (0.6, kill_worker(b))])
    elapsed = time.monotonic() - t0

    rows = count_rows(fresh_pg_database)
    acknowledged = set(load.acknowledged)
    lost = [c for c in acknowledged if rows.get(c, 0) == 0]
    doubled = {c: n for c, n in rows.items() if n != 1}
    strangers = set(rows) - load.attempted
    figures.add("load_feedback_posts", load.requests)
    figures.add("load_feedback_entries_acknowledged", len(acknowledged))
    figures.add("load_rows_lost", len(lost))
    figures.add("load_rows_duplicated", len(doubled))
    figures.add("load_workers_sigkilled", len(killed))
    figures.note("load_statuses", {str(k): v for k, v in sorted(load.statuses.items(), key=str)})
    figures.note("load_seconds", round(elapsed, 1))

    assert len(killed) == 2
    assert len(load.acknowledged) == len(acknowledged)  # no entry acknowledged twice by the client
    assert not lost, f"{len(lost)} acknowledged feedback entries are missing"
    assert not doubled, f"stored more than once: {list(doubled.items())[:5]}"
    assert not strangers
    assert len(acknowledged) >= 0.95 * len(load.attempted)  # retries got nearly everything through
    assert 500 not in load.statuses
    # both instances recovered (gunicorn replaced the killed workers) and still answer
    for inst in (a, b):
        assert requests.get(inst.base + "/healthz", timeout=5).status_code == 200
        r = requests.post(inst.base + FEEDBACK_PATH, json={"feedback": feedback_entries(1)},
                          headers=bearer(token_for(key, inst, FEEDBACK_PATH)), timeout=10)
        assert r.status_code == 200
        assert len(inst.worker_pids()) == 2
    # replay protection is shared: a token used on A is refused on B
    tok = token_for(key, a, FEEDBACK_PATH)
    assert requests.post(a.base + FEEDBACK_PATH, json={"feedback": feedback_entries(1)}, headers=bearer(tok),
                         timeout=10).status_code == 200
    replay = key.sign(dict(json.loads(__import__("base64").urlsafe_b64decode(tok.split(".")[1] + "===")),
                           aud=b.base + FEEDBACK_PATH))
    assert requests.post(b.base + FEEDBACK_PATH, json={"feedback": feedback_entries(1)}, headers=bearer(replay),
                         timeout=10).status_code == 401
    # hygiene: no token in either instance's log
    for inst in (a, b):
        text = inst.log_text()
        assert tok not in text and "eyJ" not in text
        assert "Traceback" not in text or "WORKER TIMEOUT" in text


def _set_connections(dbname: str, allow: bool) -> None:
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS {"true" if allow else "false"}')
        if not allow:
            c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (dbname,))


def test_database_outage_gives_503_and_recovers(key, issuers_file, fresh_pg_database, redis_url, instances,
                                                 figures):
    env = {"CDS_AUTH": "jwt", "CDS_TRUSTED_ISSUERS": str(issuers_file), "CDS_DATABASE_URL": db_url(fresh_pg_database),
           "CDS_REDIS_URL": redis_url, "CDS_CLOCK": "2025-06-01"}
    inst = instances("instance-outage", env, workers=1)

    def post(entries):
        return requests.post(inst.base + FEEDBACK_PATH, json={"feedback": entries},
                             headers=bearer(token_for(key, inst, FEEDBACK_PATH)), timeout=15)

    before = feedback_entries(2)
    assert post(before).status_code == 200

    import schemathesis

    from rel_env import ROOT

    doc = schemathesis.openapi.from_path(str(ROOT / "cds_service" / "openapi.json"))
    feedback_op = doc.find_operation_by_label("POST " + FEEDBACK_PATH)
    _set_connections(fresh_pg_database, False)
    try:
        during = feedback_entries(1)
        responses = [post(during) for _ in range(5)]
        statuses = [r.status_code for r in responses]
        figures.add("db_outage_requests", len(statuses))
        assert statuses == [503] * 5, statuses
        feedback_op.validate_response(responses[0])  # the 503 is documented, with its body schema
        ready = requests.get(inst.base + "/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
        assert requests.get(inst.base + "/healthz", timeout=5).status_code == 200
        # the clinical answer does not depend on the database (the card log failure is logged)
        call = requests.post(inst.base + PV_PATH, json=hook_request(prefetch=full_prefetch()),
                             headers=bearer(token_for(key, inst, PV_PATH)), timeout=15)
        assert call.status_code == 200, call.text[:300]
        assert isinstance(call.json()["cards"], list)
    finally:
        _set_connections(fresh_pg_database, True)

    deadline = time.monotonic() + 20
    while True:
        r = post(during)
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        assert r.status_code == 503
        time.sleep(0.5)
    assert r.status_code == 200, r.text[:300]
    assert requests.get(inst.base + "/readyz", timeout=10).status_code == 200
    rows = count_rows(fresh_pg_database)
    assert {e["card"] for e in before + during} == set(rows) and set(rows.values()) == {1}
    log = inst.log_text()
    assert "Traceback" not in log
    assert SECRET_FAMILY not in log and SECRET_GIVEN not in log
