"""Running real `omalizumab-cds serve` instances (gunicorn; sync workers unless threads are asked for) as subprocesses.

Each instance binds a free loopback port, logs to a file the log-hygiene checks read, and is stopped
(SIGTERM, then SIGKILL of its process group) by the fixture that started it.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command() -> list[str]:
    script = Path(sys.executable).with_name("omalizumab-cds")
    if script.exists():
        return [str(script), "serve"]
    found = shutil.which("omalizumab-cds")
    return [found, "serve"] if found else [sys.executable, "-m", "cds_service", "serve"]


@dataclass
class Instance:
    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """gunicorn workers: the children of the master process."""
        pids: list[int] = []
        task_dir = Path(f"/proc/{self.proc.pid}/task")
        for task in task_dir.iterdir() if task_dir.exists() else ():
            try:
                pids += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                pass
        return sorted(set(pids))

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException as exc:
                last = exc
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout}s ({last}):\n{self.log_tail()}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)


def start_instance(name: str, env_extra: dict[str, str], log_dir: Path, *, workers: int = 2,
                   threads: int | None = None) -> Instance:
    """`serve` with `workers`; `threads` None keeps serve's default (1 per worker: sync workers, the
    production configuration)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env.update({"CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "CDS_LOG_LEVEL": "INFO",
                "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
                "PROMETHEUS_MULTIPROC_DIR": str(log_dir / f"{name}-metrics")})
    env.update(env_extra)
    log_path = log_dir / f"{name}.log"
    log = open(log_path, "wb")
    args = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--timeout", "30"]
    if threads is not None:
        args += ["--threads", str(threads)]
    proc = subprocess.Popen(serve_command() + args,
                            cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    log.close()
    return Instance(name, port, proc, log_path, env)
