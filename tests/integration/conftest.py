"""One real FHIR server per session (tools/fhir_server: Medplum's FHIR router from npm, on loopback),
loaded with the demo patients, and a service configured to fetch from it.

Without Node.js (>= 20.19) the tests skip with the reason; with `CI` set they fail instead, as the
PostgreSQL and Redis tests do. The server's npm packages are installed here when missing (`make test`
installs them first: `make fhir-server-deps`).
"""
from __future__ import annotations

import os

import pytest

from tests.e2e.hooks import ANCHOR, CLOCK
from tests.integration.real_fhir import PAGE_CAP, medication_reference_variant
from tools.fhir_server import launcher

IN_CI = bool(os.environ.get("CI", "").strip())


def _unavailable(reason: str) -> None:
    msg = f"real FHIR server unavailable: {reason}"
    if IN_CI:
        pytest.fail(msg + " (CI is set: these tests must not be skipped)")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def real_fhir(tmp_path_factory):
    """The running server (launcher.RealFhirServer); `.base` is its FHIR base URL."""
    problem = launcher.node_problem()
    if problem:
        _unavailable(problem)
    if not launcher.dependencies_installed():
        try:
            launcher.install_dependencies()
        except Exception as exc:  # no npm, or the registry is out of reach: say which
            _unavailable(f"could not install its npm packages ({type(exc).__name__}: {exc})")
    log_path = tmp_path_factory.mktemp("real-fhir") / "server.log"
    try:
        server = launcher.start(max_count=PAGE_CAP, log_path=log_path)
    except launcher.RuntimeMissing as exc:
        _unavailable(str(exc))
    try:
        server.loaded = launcher.load_demo_patients(server.base, ANCHOR)
        launcher.post_transaction(server.base, launcher.transaction_bundle(medication_reference_variant()))
        yield server
    finally:
        server.stop()


def make_app(tmp_path_factory, *bases: str, **extra: str):
    """The real app, allowed to read `bases` without a token (auth off, loopback test client).

    The FHIR time budget is raised from 2.5 s: Medplum's in-memory search costs ~0.1 s per
    Observation search on this machine and runs one request at a time (one Node thread), and these
    tests compare data, not speed (the budget itself is tested in tests/reliability)."""
    from cds_service.app import create_app

    db = tmp_path_factory.mktemp("real-fhir-app") / "cds.sqlite3"
    config = {"TESTING": True, "CDS_AUTH": "off", "CDS_CLOCK": CLOCK, "CDS_REGION": "US",
              "CDS_DATABASE_URL": f"sqlite:///{db}", "CDS_DEMO": "0", "CDS_ALLOW_OPEN_FHIR": "1",
              "CDS_ALLOWED_FHIR_SERVERS": ",".join(bases), "CDS_FHIR_BUDGET_SECONDS": "30",
              "CDS_FHIR_READ_TIMEOUT": "15", "CDS_FHIR_CONNECT_TIMEOUT": "5"}
    config.update(extra)
    app = create_app(config)
    return app


@pytest.fixture(scope="session")
def real_app(real_fhir, tmp_path_factory):
    app = make_app(tmp_path_factory, real_fhir.base)
    yield app
    executor = app.extensions.get("cds_fhir_executor")
    if executor is not None:
        executor.shutdown(wait=False, cancel_futures=True)


@pytest.fixture(scope="session")
def real_client(real_app):
    with real_app.test_client() as client:
        yield client
