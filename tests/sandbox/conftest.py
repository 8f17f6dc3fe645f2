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

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.append(str(HERE))  # sbx_*.py helpers (unique names; append: never shadow other dirs' modules)

from sbx_stack import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Stack, require, start_stack, stop_stack  # noqa: E402


@pytest.fixture(scope="session")
def sandbox_dir() -> Path:
    from demo.sandbox import sandbox_dir as locate, sandbox_missing

    path = locate()
    require(sandbox_missing(path) is None, f"CDS Hooks Sandbox: {sandbox_missing(path)}")
    return path


@pytest.fixture(scope="session")
def stack(tmp_path_factory, sandbox_dir) -> Stack:
    started = start_stack(tmp_path_factory.mktemp("sandbox-stack"), sandbox_dir)
    yield started
    stop_stack(started.proc)


@pytest.fixture(scope="module")  # module: only one Playwright sync loop may run at a time (tests/demo has its own)
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
