"""A real demo server for the demo tests: `omalizumab-cds serve` (gunicorn) in a subprocess.

Why a subprocess and not the Flask test client: the page and the service's fetch-when-prefetch-is-
missing path talk HTTP to the demo FHIR server served by the same process, exactly as after
`make run`, and the browser needs a real socket. One server per test module; a temporary SQLite
database; CDS_AUTH=off on loopback only.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LiveServer:
    base: str
    database_url: str
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> LiveServer:
    tmp = tmp_path_factory.mktemp("demo-server")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    db_url = f"sqlite:///{tmp}/demo.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env.update({
        "CDS_DEMO": "1", "CDS_AUTH": "off", "CDS_DATABASE_URL": db_url, "CDS_PUBLIC_BASE_URL": base,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prom"), "PYTHONPATH": str(REPO),
    })
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cds_service", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "--threads", "8"],
            cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = LiveServer(base, db_url, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"demo server exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                if requests.get(base + "/demo/api/config", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"demo server did not start in 30 s:\n{server.log_tail()}")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
