"""Helpers of the Sandbox tests (a unique module name: `conftest` is taken by every test directory)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ARTIFACTS = REPO / "artifacts" / "sandbox"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def require(ok: bool, message: str) -> None:
    """Skip locally, fail under CI (a missing prerequisite must not turn the suite green)."""
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Stack:
    """One `python -m demo.sandbox` run: the Sandbox's URL, the service's base, its DB and log."""
    sandbox: str
    base: str
    database_url: str
    log_path: Path
    proc: subprocess.Popen = field(repr=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self, name: str, since: int = 0) -> list[str]:
        """The service's JSON log lines with "event": name (from character offset `since`)."""
        pattern = re.compile(r'"event":\s*"' + re.escape(name) + '"')
        return [line for line in self.log()[since:].splitlines() if pattern.search(line)]

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


def start_stack(tmp: Path, sandbox: Path, **env_overrides: str) -> Stack:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    db_url = f"sqlite:///{tmp}/sandbox.sqlite3"
    env.update({"CDS_DATABASE_URL": db_url, "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prom"),
                "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **env_overrides})
    log_path = tmp / "sandbox-stack.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "demo.sandbox", "--sandbox-dir", str(sandbox),
                                 "--port", "0", "--sandbox-port", "0"],
                                cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        text = log_path.read_text(errors="replace")
        m = re.search(r"^sandbox ready: (\S+) service (\S+)$", text, re.M)
        if m:
            return Stack(m.group(1), m.group(2), db_url, log_path, proc)
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_stack(proc)
            pytest.fail(f"`python -m demo.sandbox` did not start:\n{text[-4000:]}")
        time.sleep(0.2)


def stop_stack(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()  # the launcher stops its service child and its static server
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
