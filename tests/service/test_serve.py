"""`omalizumab-cds serve`: a real gunicorn, configured from the environment, loopback-only without auth."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cds_service.server import gunicorn_options, is_loopback, prepare

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("host, expected", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("[::1]", True), ("127.5.5.5", True), ("0.0.0.0", False),
                                            ("10.0.0.5", False), ("example.org", False), ("::", False)])
def test_loopback_detection(host, expected):
    assert is_loopback(host) is expected


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_auth_off_refuses_non_loopback_bind(host, tmp_path):
    env = {"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    with pytest.raises(SystemExit, match="refusing to bind"):
        prepare(host, 8080, environ=env)


def test_jwt_mode_needs_an_issuers_file(tmp_path):
    with pytest.raises(SystemExit, match="CDS_TRUSTED_ISSUERS"):
        prepare("0.0.0.0", 8080, environ={"CDS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_prepare_migrates_once_and_tells_workers_not_to(tmp_path, monkeypatch):
    # prepare() points prometheus-client at a multiprocess dir through os.environ: restore it afterwards
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prom"))
    env = {"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    prepare("127.0.0.1", 9123, environ=env)
    assert (tmp_path / "prom").is_dir()
    assert env["CDS_DB_AUTO_MIGRATE"] == "0"
    assert env["CDS_PUBLIC_BASE_URL"] == "http://127.0.0.1:9123"
    assert (tmp_path / "x.db").exists()


def test_gunicorn_options():
    from cds_service.metrics import gunicorn_child_exit

    opts = gunicorn_options("127.0.0.1", 8081, workers=3, threads=4, timeout=30)
    assert opts["child_exit"] is gunicorn_child_exit
    assert opts["bind"] == "127.0.0.1:8081" and opts["workers"] == 3 and opts["timeout"] == 30
    assert opts["worker_class"] == "gthread" and opts["threads"] == 4 and opts["preload_app"] is False
    # one thread per worker (serve's default outside demo mode): sync workers, which take a connection
    # only when free, so the kernel spreads concurrent clients over the workers
    assert gunicorn_options("127.0.0.1", 8081, workers=2, threads=1, timeout=30)["worker_class"] == "sync"
    assert gunicorn_options("::1", 80, 1, 1, 30)["bind"] == "[::1]:80"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_gunicorn_and_answers(tmp_path):
    """serve's default configuration (sync workers) answers, and a worker's graceful exit on SIGTERM
    writes the card-log rows still queued for write-behind (a 10-minute window never passes here)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import workload  # the benchmark's patient-view: the allergic-asthma demo patient, one dose card

    demo = workload.load_demo(str(workload.find_demo_patient()))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env.update(CDS_AUTH="off", CDS_DATABASE_URL=f"sqlite:///{tmp_path}/serve.db", PYTHONPATH=str(ROOT),
               CDS_CARD_LOG_WRITE_BEHIND_MS="600000", CDS_CLOCK=demo["clock"])
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "cds_service", "serve", "--port", str(port), "--workers", "2"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("server did not start: " + proc.stdout.read1(20000).decode(errors="replace")
                                if proc.poll() is not None else "server did not start in 30 s")
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/cds-services", timeout=5) as resp:
            assert resp.headers["Server"].startswith("gunicorn")
            assert len(json.load(resp)["services"]) == 3
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
            assert json.load(resp)["database"] == "ok"
        call = urllib.request.Request(f"http://127.0.0.1:{port}/cds-services/{workload.PATIENT_VIEW_SERVICE}",
                                      method="POST", data=json.dumps(workload.patient_view_request(demo)).encode(),
                                      headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(call, timeout=10) as resp:
            answered = {card["uuid"] for card in json.load(resp)["cards"]}
        assert answered
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    # one thread per worker by default: gunicorn's sync workers (see server.worker_class)
    assert "Using worker: sync" in proc.stdout.read().decode(errors="replace")
    import sqlite3

    with sqlite3.connect(tmp_path / "serve.db") as db:
        logged = {row[0] for row in db.execute("SELECT card_uuid FROM returned_cards")}
    assert answered <= logged


def test_demo_serve_prints_the_urls_to_open(tmp_path, monkeypatch, capsys):
    """`make run` (demo mode) tells the user where the sidebar page, discovery and demo FHIR server are."""
    from cds_service import server

    # serve() writes some of these into os.environ: setenv first so monkeypatch restores them afterwards
    for key in ("CDS_PUBLIC_BASE_URL", "CDS_DB_AUTO_MIGRATE", "PROMETHEUS_MULTIPROC_DIR", "CDS_TRUSTED_ISSUERS"):
        monkeypatch.setenv(key, "placeholder")
        monkeypatch.delenv(key)
    monkeypatch.setenv("CDS_DEMO", "1")
    monkeypatch.setenv("CDS_AUTH", "off")
    monkeypatch.setenv("CDS_DATABASE_URL", f"sqlite:///{tmp_path}/banner.db")
    started = []
    monkeypatch.setattr(server, "CdsGunicorn", lambda options: type("G", (), {"run": lambda self: started.append(options)})())
    server.serve("127.0.0.1", 8123, workers=1)
    out = capsys.readouterr().out
    assert started, "gunicorn was not started"
    assert "http://127.0.0.1:8123/" in out
    assert "http://127.0.0.1:8123/cds-services" in out and "http://127.0.0.1:8123/demo/fhir" in out
    # the demo service fetches from its own /demo/fhir: a worker busy with a hook needs spare threads
    assert started[0]["threads"] > 1 and started[0]["worker_class"] == "gthread"


def test_default_threads_one_per_worker_except_demo():
    from cds_service import server

    assert server.default_threads(demo=False) == 1
    assert server.default_threads(demo=True) > 1

