"""Start and stop the two servers under test, find their gunicorn workers, read worker RSS."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_command(port: int, workers: int) -> list[str]:
    """`omalizumab-cds serve` (the console script next to this interpreter when installed, else the
    same entry point through `python -c`, so the benchmark also runs from an uninstalled checkout)."""
    script = Path(sys.executable).parent / "omalizumab-cds"
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "import sys; from cds_service.cli import main; sys.exit(main())", *args]


def floor_command(port: int, workers: int, worker_class: str = "sync", threads: int = 1) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--chdir", str(REPO / "bench"), "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--worker-class", worker_class, "--threads", str(threads),
            "--keep-alive", "5",
            "--log-level", "warning", "floor_app:create_app()"]


class Server:
    """A server process in its own session (so stopping it stops its gunicorn workers too)."""

    def __init__(self, name: str, cmd: list[str], port: int, env: dict[str, str], log_dir: Path,
                 ready_path: str) -> None:
        self.name, self.cmd, self.port, self.env = name, cmd, port, env
        self.ready_path = ready_path
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=REPO, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); log:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base_url + self.ready_path, timeout=2) as resp:
                    if resp.status == 200 and len(self.worker_pids()) >= 1:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f}s; log:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        """gunicorn workers = the leaf processes below the launched process."""
        if self.proc is None:
            return []
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        leaves, stack = [], list(children.get(self.proc.pid, []))
        while stack:
            pid = stack.pop()
            kids = children.get(pid, [])
            if kids:
                stack.extend(kids)
            else:
                leaves.append(pid)
        return sorted(leaves)

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # our own session: the server and its workers
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time consumed so far by these processes (/proc/<pid>/stat), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


def rss_mb(pid: int) -> float | None:
    """VmRSS of a process in MiB (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        return None
    return None
