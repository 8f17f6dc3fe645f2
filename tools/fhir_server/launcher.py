"""Start the real FHIR R4 server, load the demo patients into it, stop it.

The server is `server.mjs` beside this file: Medplum's FHIR router and in-memory repository (npm,
pinned in package.json / package-lock.json) behind node:http. Used by the integration tests
(tests/integration, one server per session) and by `make fhir-server` (`python
tools/fhir_server/launcher.py`, which keeps it running for a person and prints its base URL).

Each demo patient is loaded as one FHIR `transaction` Bundle of PUT entries, so the server keeps the
demo ids (`Patient/demo-allergic-asthma-adult`, `Observation/aaa-ige-1`, ...) and a hook request can
name the same patient it names against the demo server.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterable

HERE = Path(__file__).resolve().parent
SERVER_JS = HERE / "server.mjs"
ROUTER_PACKAGE = HERE / "node_modules" / "@medplum" / "fhir-router" / "package.json"
MIN_NODE = (20, 19)
NAMESPACE = uuid.UUID("0b7e4f44-3c1c-4d0e-9a55-0e61c5b7f7a1")  # stable urn:uuid fullUrls


class RuntimeMissing(RuntimeError):
    """The server cannot run on this machine; the message says what is missing and how to get it."""


def _node_version(node: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=15).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)\.(\d+)", out.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def node_problem() -> str | None:
    """Why Node.js cannot run the server here, or None when it can."""
    node = shutil.which("node")
    if not node:
        return "Node.js is not installed (need node >= 20.19 and npm; Debian: apt-get install nodejs npm)"
    version = _node_version(node)
    if version is None or version < MIN_NODE:
        shown = ".".join(map(str, version)) if version else "of unknown version"
        return f"node {shown} is too old (need >= {MIN_NODE[0]}.{MIN_NODE[1]})"
    return None


def dependencies_installed() -> bool:
    return ROUTER_PACKAGE.exists()


def runtime_problem() -> str | None:
    """Why the server cannot start here, or None when it can."""
    problem = node_problem()
    if problem:
        return problem
    if not dependencies_installed():
        return ("the server's npm packages are not installed: run `make fhir-server-deps` "
                "(npm ci in tools/fhir_server)")
    return None


def install_dependencies(*, quiet: bool = True) -> None:
    """`npm ci` in tools/fhir_server (what `make fhir-server-deps` runs); a no-op when installed."""
    if ROUTER_PACKAGE.exists():
        return
    npm = shutil.which("npm")
    if not npm:
        raise RuntimeMissing("npm is not installed (Debian: apt-get install npm)")
    cmd = [npm, "ci", "--no-audit", "--no-fund"] + (["--silent"] if quiet else [])
    subprocess.run(cmd, cwd=HERE, check=True, timeout=600)


@dataclass
class RealFhirServer:
    """One running server: its FHIR base URL and its process."""

    base: str
    process: subprocess.Popen
    log_path: Path | None
    max_count: int
    _stderr: Any = field(default=None, repr=False)

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None:
            return "(no server log)"
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._stderr is not None:
            self._stderr.close()


def start(*, port: int = 0, max_count: int = 1000, log_path: Path | None = None,
          timeout_s: float = 30.0) -> RealFhirServer:
    """Start server.mjs on 127.0.0.1 (a free port by default) and wait until it answers."""
    import requests

    problem = runtime_problem()
    if problem:
        raise RuntimeMissing(problem)
    stderr = log_path.open("wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        [shutil.which("node") or "node", str(SERVER_JS), "--host", "127.0.0.1", "--port", str(port),
         "--max-count", str(max_count)],
        cwd=HERE, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:  # the first stdout line is the ready line; keep draining the rest
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, name="fhir-server-stdout", daemon=True).start()
    server = RealFhirServer("", proc, log_path, max_count, stderr if log_path else None)
    deadline = time.monotonic() + timeout_s
    try:
        while not server.base:
            if proc.poll() is not None:
                raise RuntimeError(f"the FHIR server exited with {proc.returncode}:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the FHIR server did not start in {timeout_s:.0f} s:\n{server.log_tail()}")
            try:
                ready = json.loads(lines.get(timeout=0.2))
            except queue.Empty:
                continue
            except ValueError:
                continue
            if ready.get("event") == "ready":
                server.base = ready["base"]
        health = server.base.split("/fhir/", 1)[0] + "/healthcheck"
        while True:
            try:
                if requests.get(health, timeout=2).status_code == 200:
                    return server
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the FHIR server did not answer {health}:\n{server.log_tail()}")
            time.sleep(0.1)
    except BaseException:
        server.stop()
        raise


def transaction_bundle(resources: Iterable[dict]) -> dict:
    """A FHIR `transaction` Bundle that PUTs each resource at its own id (ids are kept)."""
    entries = []
    for resource in resources:
        rtype, rid = resource["resourceType"], resource["id"]
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{rtype}/{rid}')}",
                        "resource": resource,
                        "request": {"method": "PUT", "url": f"{rtype}/{rid}"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def post_transaction(base: str, bundle: dict, *, session=None, timeout_s: float = 30.0) -> dict:
    """POST one transaction Bundle to `base`; the transaction-response, or RuntimeError on failure."""
    import requests

    http = session or requests
    resp = http.post(base, data=json.dumps(bundle), timeout=timeout_s,
                     headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"})
    body = resp.json() if resp.content else {}
    if resp.status_code != 200 or body.get("type") != "transaction-response":
        raise RuntimeError(f"transaction refused: HTTP {resp.status_code}: {json.dumps(body)[:500]}")
    bad = [e.get("response", {}).get("status") for e in body.get("entry", [])
           if not str(e.get("response", {}).get("status", "")).startswith(("200", "201"))]
    if bad or len(body.get("entry", [])) != len(bundle["entry"]):
        raise RuntimeError(f"transaction entries failed: {bad}")
    return body


def demo_bundles(today: date) -> dict[str, dict]:
    """slug -> transaction Bundle of the demo patient's resources, dates shifted to `today`."""
    from demo import store

    demo = store.store_for(today)
    return {slug: transaction_bundle(e["resource"] for e in bundle["entry"])
            for slug, bundle in demo.bundles.items()}


def load_demo_patients(base: str, today: date, *, session=None) -> dict[str, dict]:
    """Load every demo patient as its own transaction; slug -> transaction-response."""
    return {slug: post_transaction(base, bundle, session=session)
            for slug, bundle in demo_bundles(today).items()}


def _today(clock: str | None) -> date:
    clock = clock or os.environ.get("CDS_CLOCK")
    if clock:
        return date.fromisoformat(clock.strip()[:10])
    return datetime.now(timezone.utc).date()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the real FHIR R4 server (Medplum's FHIR router) "
                                                 "on 127.0.0.1 with the demo patients loaded.")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--max-count", type=int, default=1000,
                        help="server page size cap (a small value forces paging with next links)")
    parser.add_argument("--clock", help="'today' for the demo dates (default: CDS_CLOCK, else today UTC)")
    args = parser.parse_args(argv)

    def stop_on_term(signum, frame):  # `kill <pid>` stops the Node process too, as Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_term)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background by a shell
        signal.signal(signal.SIGINT, stop_on_term)
    try:
        install_dependencies(quiet=False)
        server = start(port=args.port, max_count=args.max_count)
    except RuntimeMissing as exc:
        print(f"cannot start the FHIR server: {exc}", file=sys.stderr)
        return 2
    try:
        loaded = load_demo_patients(server.base, _today(args.clock))
        n = sum(len(r.get("entry", [])) for r in loaded.values())
        print("\n".join([
            "real FHIR R4 server (Medplum fhir-router, in memory; loopback only):",
            f"  FHIR base  : {server.base}",
            f"  loaded     : {len(loaded)} demo patients, {n} resources (transaction Bundles, ids kept)",
            f"  try        : curl -s '{server.base}/Patient/demo-allergic-asthma-adult'",
            "  the service: send a hook request with no prefetch and "
            f"\"fhirServer\": \"{server.base}\"",
            "               (allow it: CDS_ALLOWED_FHIR_SERVERS=<base> CDS_ALLOW_OPEN_FHIR=1 with CDS_AUTH=off)",
            "Ctrl-C stops it.",
        ]), flush=True)
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
