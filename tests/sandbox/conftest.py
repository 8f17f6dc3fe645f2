"""The real CDS Hooks Sandbox (prebuilt, ../shared/tools/cds-hooks-sandbox) against the live service.

`stack` is exactly `make sandbox` (`python -m demo.sandbox`) on free ports: the Sandbox served from
disk on loopback, the service in demo mode with authentication ON (CDS_AUTH=jwt, the shipped issuers
file pinning the Sandbox's JWKS from a local file) and CORS for the Sandbox's origin; only the
database (a temporary SQLite file, read by the feedback checks) is set by the test.  Chromium is
Debian's (never downloaded), launched by Playwright with a fresh temporary profile; every test gets
a new browser context (empty localStorage, so no PERSISTED_* settings carry over).  Internet names do
not resolve (`--host-resolver-rules`), so the Sandbox's built-in internet defaults fail fast.

Without the Sandbox build or chromium the tests skip with the reason; with CI set they fail instead.
"""
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
if str(HERE) not in sys.path:
    sys.path.append(str(HERE))  # sbx_cards.py (append: never shadow other dirs' modules)

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


@pytest.fixture(scope="session")
def sandbox_dir() -> Path:
    from demo.sandbox import sandbox_dir as locate, sandbox_missing

    path = locate()
    require(sandbox_missing(path) is None, f"CDS Hooks Sandbox: {sandbox_missing(path)}")
    return path


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


@pytest.fixture(scope="session")
def stack(tmp_path_factory, sandbox_dir) -> Stack:
    started = start_stack(tmp_path_factory.mktemp("sandbox-stack"), sandbox_dir)
    yield started
    stop_stack(started.proc)


@pytest.fixture(scope="session")
def browser():
    require(Path(CHROMIUM).exists(), "Debian's chromium is not installed (make browser, or apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)  # a fresh temporary profile
        yield b
        b.close()


@pytest.fixture()
def context(browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()
