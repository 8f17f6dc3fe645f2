"""`omalizumab-cds serve`: gunicorn run programmatically (no gunicorn.conf.py to ship or forget).

Before the workers start: refuse a non-loopback bind when CDS_AUTH=off, run the database
migrations once, prepare the Prometheus multiprocess directory; then each worker builds its own
app with `create_app()` (no preload: no sockets or pools shared across fork).
"""
from __future__ import annotations

import ipaddress
import logging
import os
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger("cds_service.server")


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServeRefused(SystemExit):
    pass


class CdsGunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self):
        from . import create_app
        from .warmup import warm_up

        app = create_app()
        warm_up(app)  # build every lazily loaded table now, not in the first EHR request
        freeze_heap()
        return app


def freeze_heap() -> None:
    """Move the worker's start-up objects (~150,000: modules, FHIR models, code tables) out of the
    cyclic GC's reach.  They live as long as the worker; left in, every full collection walks them
    all: a 60 ms stall in the middle of a request, and of every request queued behind it."""
    import gc

    gc.collect()
    gc.freeze()


def worker_class(threads: int) -> str:
    """gunicorn's `sync` worker for one thread per worker, `gthread` for more.

    A hook answer is CPU-bound Python, so a worker does one at a time either way; what differs is who
    picks the next connection. A sync worker accepts a connection only when it is free, so the kernel
    hands each new one to an idle worker. A gthread worker accepts and keeps alive every connection
    that reaches it while its one thread is busy, so a burst of keep-alive clients can all queue on
    one worker while another idles, and its accept thread contends with the request thread for the
    GIL. Measured with `bench/run_bench.py` (2 workers, patient-view, 16 connections): sync served
    1,238 req/s with p99 17.6 ms; gthread 1,110 req/s with p99 37.4 ms, and 16/0 connection splits in
    earlier runs. The cost is keep-alive: put the service behind a TLS-terminating reverse proxy that
    keeps the EHR's connections alive and buffers slow clients, as gunicorn's deployment guide asks of
    sync workers (serve has no TLS of its own, so production has that proxy anyway).
    """
    return "sync" if threads <= 1 else "gthread"


def gunicorn_options(host: str, port: int, workers: int, threads: int, timeout: int) -> dict[str, Any]:
    bind_host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    options: dict[str, Any] = {
        "bind": f"{bind_host}:{port}",
        "workers": workers,
        "worker_class": worker_class(threads),
        "threads": threads,
        "timeout": timeout,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,  # the app logs one JSON line per request itself
        "errorlog": "-",
        "loglevel": "info",
        "limit_request_line": 8190,
        "limit_request_field_size": 16384,  # JWTs can be long
        "preload_app": False,
        "proc_name": "omalizumab-cds",
        # one shared $HOME/.gunicorn/gunicorn.ctl would collide between instances on one host
        "control_socket_disable": True,
    }
    from .metrics import gunicorn_child_exit

    options["child_exit"] = gunicorn_child_exit  # drop a dead worker's live Prometheus series
    return options


def prepare(host: str, port: int, environ=os.environ) -> "Settings":
    """Checks and one-time set-up done in the master process; returns the settings.  Raises ServeRefused."""
    from .db import make_engine, upgrade
    from .settings import Settings, SettingsError

    if "CDS_PUBLIC_BASE_URL" not in environ and is_loopback(host):
        environ["CDS_PUBLIC_BASE_URL"] = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    try:
        settings = Settings.from_env(environ)
    except SettingsError as exc:
        raise ServeRefused(f"configuration error: {exc}") from None
    if not settings.auth_enabled and not is_loopback(host):
        raise ServeRefused(f"refusing to bind {host}: CDS_AUTH=off is for local use only "
                           "(bind 127.0.0.1, or configure CDS_AUTH=jwt with CDS_TRUSTED_ISSUERS)")
    if settings.auth_enabled and not settings.trusted_issuers_file:
        raise ServeRefused("CDS_AUTH=jwt needs CDS_TRUSTED_ISSUERS (see README); "
                           "CDS_AUTH=off only for a local demo")
    if settings.auth_enabled:
        from .issuers import load_issuers

        try:
            load_issuers(settings.trusted_issuers_file, ttl=settings.jwks_cache_seconds)
        except SettingsError as exc:
            raise ServeRefused(str(exc)) from None
    if not settings.auth_enabled:
        log.warning("!!! CDS_AUTH=off: EHR authentication is DISABLED (local demo/tests only) !!!")
    try:
        upgrade(make_engine(settings.database_url))
    except Exception as exc:  # noqa: BLE001 - report, do not start half-configured
        raise ServeRefused(f"database migration failed ({type(exc).__name__}): {exc}") from None
    environ["CDS_DB_AUTO_MIGRATE"] = "0"  # done once here; workers must not race on DDL
    from .metrics import prepare_multiprocess_dir

    prepare_multiprocess_dir(environ.get("PROMETHEUS_MULTIPROC_DIR"))
    return settings


def default_threads(demo: bool) -> int:
    """Threads per worker when `--threads` is not given.

    Evaluation is CPU-bound, so one thread per worker avoids GIL contention (measured: patient-view at
    16 connections 505 -> 718 req/s). In demo mode the service fetches from its own demo FHIR server
    (`/demo/fhir`, same gunicorn), so a worker busy with a hook must leave threads free to answer those
    fetches: with one thread per worker the fetches queue behind the hook and time out.
    """
    return 8 if demo else 1


def serve(host: str = "127.0.0.1", port: int = 8080, workers: int = 2, threads: int | None = None,
          timeout: int = 30) -> None:
    settings = prepare(host, port)
    if threads is None:
        threads = default_threads(settings.demo)
    if settings.demo:
        from demo import startup_banner

        sandbox = os.environ.get("CDS_SANDBOX_URL") or "http://localhost:8081"  # set by `make sandbox`
        print(startup_banner(settings.public_base_url, sandbox_url=sandbox, auth_enabled=settings.auth_enabled),
              flush=True)
    CdsGunicorn(gunicorn_options(host, port, workers, threads, timeout)).run()
