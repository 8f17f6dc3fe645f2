"""`make sandbox` / `python -m demo.sandbox`: the real CDS Hooks Sandbox against the demo, auth ON.

One command does what a tester would otherwise do by hand: serve the prebuilt Sandbox (upstream
cds-hooks/sandbox, `../shared/tools/cds-hooks-sandbox` beside the clone) from disk on loopback, start
`omalizumab-cds serve` in demo mode with EHR authentication ON (CDS_AUTH=jwt, the shipped
`sandbox-issuers.example.json`, which pins the Sandbox's published JWKS from a local file so its
internet `jku` is never fetched), allow the Sandbox's origin for CORS, and print the Sandbox URLs
that point it at this service's discovery URL and demo FHIR server.  Ctrl-C stops both.

The Sandbox is a browser app: the browser, not this process, calls the FHIR server and the service,
so both need CORS, and the service's `aud` check needs the browser to use the same host spelling as
CDS_PUBLIC_BASE_URL (127.0.0.1 by default).  Any CDS_* variable already set wins over these defaults.
"""
from __future__ import annotations

import argparse
import functools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SANDBOX_DIR = REPO.parent / "shared" / "tools" / "cds-hooks-sandbox"
DEFAULT_PATIENT = "demo-csu-ckd-hypertension"


def sandbox_dir(path: str | os.PathLike | None = None) -> Path:
    """The Sandbox build to serve: `path`, else $CDS_SANDBOX_DIR, else ../shared beside the clone."""
    chosen = Path(path or os.environ.get("CDS_SANDBOX_DIR") or DEFAULT_SANDBOX_DIR).resolve()
    return chosen


def sandbox_missing(path: Path) -> str | None:
    """Why `path` is not a servable Sandbox build (None when it is)."""
    if not (path / "index.html").is_file() or not (path / "app.bundle.js").is_file():
        return (f"no CDS Hooks Sandbox build at {path} (expected index.html and app.bundle.js; "
                "the shared tools are checked out beside the clone as ../shared)")
    return None


def issuers_file() -> str:
    """The shipped issuers file that trusts the Sandbox (its JWKS pinned from a local file)."""
    return str(resources.files("cds_service").joinpath("data", "sandbox-issuers.example.json"))


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the static files need no access log
        pass


class StaticServer:
    """The Sandbox directory over HTTP on loopback, in a daemon thread (port 0: a free port)."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host, self.port = host, self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="sandbox-static", daemon=True)

    def start(self) -> "StaticServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


VIEWS = {"patient-view": "patient-view", "rx-view": "order-select", "rx-sign": "order-sign"}  # screen -> hook


def sandbox_url(sandbox: str, service_base: str, patient_id: str, screen: str | None = None) -> str:
    """A Sandbox URL pointed at this service's discovery URL and demo FHIR server.

    `screen` also sets the matching `hook`: with `screen=rx-view` alone the Sandbox shows Rx View but
    keeps hook patient-view, and sends `"hook": "patient-view"` to the order-select service (400).
    """
    base = service_base.rstrip("/")
    params = {"fhirServiceUrl": f"{base}/demo/fhir", "patientId": patient_id,
              "serviceDiscoveryURL": f"{base}/cds-services"}
    if screen:
        params["hook"] = VIEWS[screen]
        params["screen"] = screen
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    return f"{sandbox.rstrip('/')}/?{query}"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def service_env(base: str, sandbox_origins: list[str], environ=os.environ) -> dict[str, str]:
    """The service's environment: demo mode, auth ON with the Sandbox's pinned issuers file, CORS for
    the Sandbox's origin(s).  Variables already set in `environ` win."""
    env = dict(environ)
    defaults = {
        "CDS_DEMO": "1",
        "CDS_AUTH": "jwt",
        "CDS_TRUSTED_ISSUERS": issuers_file(),
        "CDS_PUBLIC_BASE_URL": base,
        "CDS_CORS_ORIGINS": ",".join(sandbox_origins),
        "CDS_ALLOW_OPEN_FHIR": "1",  # the Sandbox sends no fhirAuthorization unless SMART-launched
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    env.setdefault("PYTHONPATH", str(REPO))
    return env


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with {proc.returncode}")
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the service did not answer {base}/healthz within {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.sandbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sandbox-dir", default=None, help="Sandbox build (default ../shared/tools/cds-hooks-sandbox)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address for both servers")
    parser.add_argument("--port", type=int, default=8080, help="service port (0: any free port)")
    parser.add_argument("--sandbox-port", type=int, default=8081, help="Sandbox port (0: any free port)")
    parser.add_argument("--patient", default=DEFAULT_PATIENT, help="demo patient id to open")
    args = parser.parse_args(argv)

    directory = sandbox_dir(args.sandbox_dir)
    problem = sandbox_missing(directory)
    if problem:
        print(f"make sandbox: {problem}", file=sys.stderr)
        return 2
    from cds_service.server import is_loopback

    if not is_loopback(args.host):
        print("make sandbox: serve on a loopback address only (the Sandbox's signing key is public)",
              file=sys.stderr)
        return 2
    try:
        static = StaticServer(directory, args.host, args.sandbox_port).start()
    except OSError as exc:
        print(f"make sandbox: cannot serve the Sandbox on port {args.sandbox_port}: {exc.strerror}", file=sys.stderr)
        return 2
    port = args.port or free_port(args.host)
    base = f"http://{args.host}:{port}"
    origins = [static.url, f"http://localhost:{static.port}"] if args.host == "127.0.0.1" else [static.url]
    env = service_env(base, origins)
    env["CDS_SANDBOX_URL"] = static.url  # the serve banner's Sandbox link
    proc = subprocess.Popen([sys.executable, "-m", "cds_service", "serve", "--host", args.host,
                             "--port", str(port), "--workers", "1"], env=env)

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        wait_ready(base, proc)
        auth = "ON (CDS_AUTH=jwt, Sandbox JWKS pinned from " + env["CDS_TRUSTED_ISSUERS"] + ")" \
            if env["CDS_AUTH"] == "jwt" else "OFF"
        print("\n".join([
            "",
            f"CDS Hooks Sandbox (served from {directory}); EHR authentication {auth}:",
            f"  patient-view : {sandbox_url(static.url, base, args.patient)}",
            f"  Rx View      : {sandbox_url(static.url, base, args.patient, 'rx-view')}",
            f"  Rx Sign      : {sandbox_url(static.url, base, args.patient, 'rx-sign')}",
            "  (Rx View / Rx Sign: type 'cyclosporine' in Medication and pick a product; Rx Sign: Sign Order)",
            f"sandbox ready: {static.url} service {base}",
            "Ctrl-C stops both.",
        ]), flush=True)
        proc.wait()
        return proc.returncode or 0
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        print(f"make sandbox: {exc}", file=sys.stderr)
        return 1
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        static.stop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
