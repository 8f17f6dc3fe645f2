"""PostgreSQL (feedback store, card log, migrations) and Redis (shared jti replay cache).

These need the servers on 127.0.0.1 (5432, 6379).  Locally they skip with a clear reason when a
server is down; under CI (the `CI` environment variable set) they fail instead of skipping.
"""
import json
import os
import uuid

import pytest

from svc_helpers import FEEDBACK, PUBLIC_BASE, PV, Key, bearer, full_prefetch, hook_request, write_issuers

PG_ADMIN = os.environ.get("CDS_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _unavailable(what: str, exc: Exception):
    message = f"{what} not reachable ({type(exc).__name__}: {exc})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI is set, so this test must not be skipped")
    pytest.skip(f"{message}: start it to run this test (never skipped under CI)")


@pytest.fixture
def pg_url():
    """A fresh database cds_test_<random> for this test, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"cds_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        _unavailable("PostgreSQL on 127.0.0.1:5432", exc)
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
def test_postgres_card_log_feedback_and_report(make_client, pg_url):
    from sqlalchemy import create_engine, text

    from cds_service.report import feedback_report

    card = {"uuid": "pg-card-1", "summary": "s", "indicator": "warning",
            "source": {"label": "l", "topic": {"system": "urn:t", "code": "cyclosporine-unsafe"}},
            "selectionBehavior": "at-most-one", "suggestions": [{"label": "x", "uuid": "pg-s-1"}]}
    client = make_client(CDS_DATABASE_URL=pg_url, CDS_EVALUATOR=lambda body, **_: {"cards": [card]})
    assert client.get("/readyz").get_json()["database"] == "ok"
    assert client.post(PV, json=hook_request(prefetch=full_prefetch())).status_code == 200
    entry = {"card": "pg-card-1", "outcome": "accepted", "acceptedSuggestions": [{"id": "pg-s-1"}],
             "outcomeTimestamp": "2026-11-22T10:05:31+01:00"}
    assert client.post(FEEDBACK, json={"feedback": [entry]}).get_json() == {"stored": 1, "duplicates": 0}
    assert client.post(FEEDBACK, json={"feedback": [entry]}).get_json() == {"stored": 0, "duplicates": 1}
    unknown = dict(entry, card="pg-unknown")
    assert client.post(FEEDBACK, json={"feedback": [unknown]}).get_json()["unknownCards"] == ["pg-unknown"]
    engine = create_engine(pg_url.replace("postgresql+psycopg", "postgresql+psycopg"))
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        stored = conn.execute(text("SELECT card_known, topic, outcome_timestamp FROM feedback ORDER BY id")).all()
    assert version == "0001"
    assert stored[0][0] is True and stored[0][1] == "cyclosporine-unsafe"
    assert stored[0][2].utcoffset().total_seconds() == 0 and stored[0][2].hour == 9  # stored in UTC
    assert stored[1][0] is False
    report = {t["topic"]: t for t in feedback_report(engine)["topics"]}
    assert report["cyclosporine-unsafe"]["accept_rate"] == 1.0
    engine.dispose()


@pytest.mark.postgres
def test_postgres_plain_url_uses_psycopg3(pg_url):
    from cds_service.db import Database, make_engine, upgrade

    engine = make_engine(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    assert engine.dialect.driver == "psycopg"
    upgrade(engine)
    assert Database(engine).ping()
    engine.dispose()


@pytest.fixture
def redis_url():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable("Redis on 127.0.0.1:6379", exc)
    return REDIS_URL


@pytest.mark.redis
def test_replayed_jti_is_rejected_across_instances_sharing_redis(make_client, tmp_path, redis_url, spy):
    key = Key.ec384("ec-redis")
    issuers = write_issuers(tmp_path, [key])
    config = dict(CDS_AUTH="jwt", CDS_TRUSTED_ISSUERS=str(issuers), CDS_PUBLIC_BASE_URL=PUBLIC_BASE,
                  CDS_EVALUATOR=spy, CDS_REDIS_URL=redis_url)
    first, second = make_client(**config), make_client(**config)
    token = key.token(PUBLIC_BASE + PV)
    body = hook_request(prefetch=full_prefetch())
    assert first.post(PV, json=body, headers=bearer(token)).status_code == 200
    resp = second.post(PV, json=body, headers=bearer(token))
    assert resp.status_code == 401 and resp.get_json() == {"error": "unauthorized"}


@pytest.mark.redis
def test_redis_jti_entries_expire_with_the_token(redis_url):
    import redis

    from cds_service.replay import RedisReplayCache, _key

    cache = RedisReplayCache(redis_url)
    jti = uuid.uuid4().hex
    assert cache.first_use("iss", jti, 120) is True
    assert cache.first_use("iss", jti, 120) is False
    ttl = redis.Redis.from_url(redis_url).ttl(_key("iss", jti))
    assert 0 < ttl <= 120


def test_unreachable_redis_is_503_not_a_silent_accept(make_client, tmp_path, spy):
    key = Key.ec384("ec-r")
    issuers = write_issuers(tmp_path, [key])
    client = make_client(CDS_AUTH="jwt", CDS_TRUSTED_ISSUERS=str(issuers), CDS_PUBLIC_BASE_URL=PUBLIC_BASE,
                         CDS_EVALUATOR=spy, CDS_REDIS_URL="redis://127.0.0.1:1/0")
    resp = client.post(PV, json=hook_request(prefetch=full_prefetch()), headers=bearer(key.token(PUBLIC_BASE + PV)))
    assert resp.status_code == 503 and spy.calls == []
    assert "token" not in json.dumps(resp.get_json()).lower()


def test_readyz_reports_an_unreachable_redis(make_client, tmp_path):
    issuers = write_issuers(tmp_path, [Key.ec384("ec-q")])
    client = make_client(CDS_AUTH="jwt", CDS_TRUSTED_ISSUERS=str(issuers), CDS_PUBLIC_BASE_URL=PUBLIC_BASE,
                         CDS_REDIS_URL="redis://127.0.0.1:1/0")
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.get_json()["replayCache"] == "unreachable"


@pytest.mark.redis
def test_readyz_with_redis(make_client, tmp_path, redis_url):
    issuers = write_issuers(tmp_path, [Key.ec384("ec-q")])
    client = make_client(CDS_AUTH="jwt", CDS_TRUSTED_ISSUERS=str(issuers), CDS_PUBLIC_BASE_URL=PUBLIC_BASE,
                         CDS_REDIS_URL=redis_url)
    assert client.get("/readyz").get_json() == {"status": "ok", "database": "ok", "replayCache": "ok"}


@pytest.mark.postgres
def test_concurrent_migrations_on_postgres_do_not_collide(pg_url):
    """Three instances starting at once (separate processes, as on separate hosts) all succeed."""
    import subprocess
    import sys
    from pathlib import Path

    from sqlalchemy import create_engine, text

    code = "import sys; from cds_service.db import make_engine, upgrade; upgrade(make_engine(sys.argv[1]))"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    procs = [subprocess.Popen([sys.executable, "-c", code, pg_url], env=env, stderr=subprocess.PIPE)
             for _ in range(3)]
    results = [(p.wait(timeout=60), p.stderr.read().decode()[-300:]) for p in procs]
    assert all(rc == 0 for rc, _ in results), results
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    engine.dispose()
