"""Fixtures for the reliability and security suite (tests/reliability).

- `LONG` (CDS_LONG=1) switches fuzzing and load to their heavy sizes; heavy tests are marked `long`.
- `figures` collects the numbers the README quotes (cases fuzzed, faults injected, requests under load,
  rows lost) and writes them to artifacts/reliability-figures.json (and ...-long.json in long mode).
- `fault_server` / `attacker_server`: real HTTP servers on loopback (rel_faultserver.FaultyFHIRServer).
- PostgreSQL / Redis: skip with the reason when the server is down, but fail when CI is set.
"""
from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # helper modules (rel_*.py, unique names) live beside this file
    sys.path.append(str(HERE))

from rel_env import IN_CI, LONG, PG_HOST, PG_PORT, REDIS_HOST, REDIS_PORT, ROOT  # noqa: E402
from rel_faultserver import FaultyFHIRServer  # noqa: E402


# -- ERROR logs: a swallowed exception is still a bug (fuzzers, leaf probe) --------------------------------
class ErrorLogs(logging.Handler):
    """Collects ERROR records of the project's loggers: a swallowed exception is still a bug."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def error_logs():
    handler = ErrorLogs()
    loggers = [logging.getLogger(n) for n in ("fhir_mappings", "clinical_core", "cards", "cds_service")]
    for lg in loggers:
        lg.addHandler(handler)
    yield handler
    for lg in loggers:
        lg.removeHandler(handler)


# -- figures for the README ------------------------------------------------------------------------------
class Figures:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.notes: dict[str, object] = {}
        self._lock = threading.Lock()

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    def note(self, key: str, value: object) -> None:
        with self._lock:
            self.notes[key] = value

    def write(self) -> None:
        if not self.counts and not self.notes:
            return
        out = ROOT / "artifacts"
        out.mkdir(exist_ok=True)
        doc = {"mode": "long" if LONG else "quick", "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "counts": dict(sorted(self.counts.items())), "notes": self.notes}
        c = doc["counts"]
        doc["summary"] = {  # the README's "Security and reliability" figures
            "cases_fuzzed": sum(v for k, v in c.items() if k.startswith("fuzz_cases_")),
            "schemathesis_cases": c.get("schemathesis_cases", 0) + c.get("schemathesis_demo_answers", 0),
            "jwt_attacks_refused": c.get("jwt_attacks", 0),
            "faults_injected": c.get("faults_injected", 0),
            "requests_under_load": c.get("load_feedback_posts", 0),
            "feedback_acknowledged": c.get("load_feedback_entries_acknowledged", 0),
            "workers_sigkilled": c.get("load_workers_sigkilled", 0),
            "rows_lost": c.get("load_rows_lost"),
            "rows_duplicated": c.get("load_rows_duplicated"),
        }
        names = ["reliability-figures.json"] + (["reliability-figures-long.json"] if LONG else [])
        for name in names:
            (out / name).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        _LAST.update(doc)


_LAST: dict = {}


def pytest_terminal_summary(terminalreporter):
    """Print the figures (cases fuzzed, faults injected, requests under load, rows lost) after the run."""
    if _LAST.get("summary"):
        terminalreporter.write_sep("-", f"reliability figures ({_LAST['mode']} mode, artifacts/reliability-figures"
                                        f"{'-long' if _LAST['mode'] == 'long' else ''}.json)")
        terminalreporter.write_line(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in _LAST["summary"].items()))


@pytest.fixture(scope="session")
def figures():
    f = Figures()
    yield f
    f.write()


# -- loopback HTTP servers -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def attacker_server():
    """Records every request it gets; a test asserts it got none."""
    with FaultyFHIRServer(default_mode="record") as srv:
        yield srv


@pytest.fixture
def fault_server(attacker_server):
    """A FHIR server serving `chart` (set `fault_server.chart`), with off-host targets at the attacker."""
    with FaultyFHIRServer(slow_seconds=8.0) as srv:
        srv.offhost_url = attacker_server.url
        yield srv


# -- PostgreSQL / Redis ----------------------------------------------------------------------------------
def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def need_server(name: str, host: str, port: int) -> None:
    if _port_open(host, port):
        return
    msg = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(msg + " (CI is set: this test must not be skipped)")
    pytest.skip(msg)


def pg_admin_url(dbname: str = "postgres") -> str:
    return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{dbname}"


@pytest.fixture
def fresh_pg_database():
    """A new, empty PostgreSQL database cds_rel_<random>; dropped (connections killed) afterwards."""
    need_server("PostgreSQL", PG_HOST, PG_PORT)
    import uuid

    import psycopg

    name = f"cds_rel_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", autocommit=True)
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        try:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            admin.close()


@pytest.fixture
def redis_url():
    need_server("Redis", REDIS_HOST, REDIS_PORT)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
