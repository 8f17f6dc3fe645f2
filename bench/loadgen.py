"""Load generators: wrk (Debian package, preferred) and a small Python fallback.

Both drive one URL with one fixed POST body over N concurrent connections and return the same
result shape (requests, req/s, latency percentiles in ms, errors, non-2xx), so the report does not
depend on which one ran.  wrk is preferred: a Python client on a 2-core box competes with the server
for the CPU and the GIL and under-reports what the server can do.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "wrk_post.lua"
WRK_MULTI_SCRIPT = HERE / "wrk_multi.lua"

WRK_MISSING = (
    "wrk not found. It is Debian's `wrk` package: `sudo apt-get install -y wrk`. "
    "Falling back to the Python load generator (lower fidelity: it shares the CPU and the GIL)."
)


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _result(tool: str, connections: int, requests: int, duration_s: float, latencies_ms: dict,
            non2xx: int, socket_errors: int, timeouts: int) -> dict:
    return {
        "tool": tool,
        "connections": connections,
        "requests": requests,
        "duration_s": round(duration_s, 3),
        "rps": round(requests / duration_s, 1) if duration_s > 0 else 0.0,
        "latency_ms": latencies_ms,
        "non2xx": non2xx,
        "socket_errors": socket_errors,
        "timeouts": timeouts,
        "errors": non2xx + socket_errors + timeouts,
    }


def run_wrk(url: str, body: bytes, *, connections: int, duration_s: float, body_dir: Path,
            timeout_s: float = 5.0, requests: list[tuple[str, bytes]] | None = None) -> dict:
    """Run wrk for `duration_s` with `connections` connections (threads = min(2, connections)).

    `requests`: (path, body) pairs sent round-robin instead of `body` to `url` (a workload family);
    `url` then gives only the server."""
    body_dir.mkdir(parents=True, exist_ok=True)
    body_file = body_dir / f"body-{os.getpid()}-{threading.get_ident()}.json"
    body_file.write_bytes(body)
    threads = max(1, min(2, connections))
    script = WRK_SCRIPT
    env = dict(os.environ, BENCH_BODY=str(body_file))
    if requests:
        manifest = body_dir / f"manifest-{os.getpid()}-{threading.get_ident()}.tsv"
        lines = []
        for i, (path, data) in enumerate(requests):
            f = body_dir / f"multi-{os.getpid()}-{i}.json"
            f.write_bytes(data)
            lines.append(f"{path}\t{f}")
        manifest.write_text("\n".join(lines) + "\n")
        script = WRK_MULTI_SCRIPT
        env["BENCH_MANIFEST"] = str(manifest)
    cmd = [wrk_path() or "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s",
           f"--timeout={max(1, round(timeout_s))}s", "-s", str(script), url]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=duration_s + timeout_s + 30)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout[-500:]} {proc.stderr[-500:]}")
    data = json.loads(line[len("BENCH_JSON "):])
    lat = {k: round(v / 1000.0, 3) for k, v in data["latency_us"].items()}
    err = data["errors"]
    # wrk's "status" errors (>= 400) are a subset of our non2xx count; do not add them twice.
    return _result("wrk", connections, data["requests"], data["duration_us"] / 1e6, lat,
                   data["non2xx"], err["connect"] + err["read"] + err["write"], err["timeout"])


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    k = (len(sorted_values) - 1) * pct / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def run_python(url: str, body: bytes, *, connections: int, duration_s: float | None = None,
               total_requests: int | None = None, timeout_s: float = 5.0, close_each: bool = False,
               requests: list[tuple[str, bytes]] | None = None) -> dict:
    """Threaded keep-alive HTTP/1.1 client: stops after `total_requests` or `duration_s`.

    `close_each`: a new connection per request, so the kernel spreads the requests over all gunicorn
    workers (a kept-alive connection stays with one worker)."""
    parts = urlsplit(url)
    host, port, path = parts.hostname, parts.port, parts.path or "/"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if close_each:
        headers["Connection"] = "close"
    lock = threading.Lock()
    plan = requests or [(path, body)]
    latencies: list[float] = []
    counters = {"issued": 0, "non2xx": 0, "socket": 0, "timeout": 0}
    deadline = time.perf_counter() + duration_s if duration_s else None

    def take_ticket() -> int | None:
        with lock:
            if total_requests is not None and counters["issued"] >= total_requests:
                return None
            counters["issued"] += 1
            return counters["issued"]

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        local: list[float] = []
        while deadline is None or time.perf_counter() < deadline:
            ticket = take_ticket()
            if ticket is None:
                break
            req_path, req_body = plan[ticket % len(plan)]
            t0 = time.perf_counter()
            try:
                conn.request("POST", req_path, body=req_body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                local.append((time.perf_counter() - t0) * 1000.0)
                if not 200 <= resp.status <= 299:
                    with lock:
                        counters["non2xx"] += 1
                if resp.will_close or close_each:
                    conn.close()
            except TimeoutError:
                with lock:
                    counters["timeout"] += 1
                conn.close()
            except (OSError, http.client.HTTPException):
                with lock:
                    counters["socket"] += 1
                conn.close()
        conn.close()
        with lock:
            latencies.extend(local)

    start = time.perf_counter()
    pool = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    lat = {
        "min": round(latencies[0], 3) if latencies else 0.0,
        "max": round(latencies[-1], 3) if latencies else 0.0,
        "mean": round(statistics.fmean(latencies), 3) if latencies else 0.0,
        "stdev": round(statistics.pstdev(latencies), 3) if len(latencies) > 1 else 0.0,
        **{f"p{str(p).replace('.', '')}": round(_percentile(latencies, p), 3)
           for p in (50, 75, 90, 99, 99.9)},
    }
    return _result("python", connections, len(latencies), elapsed, lat, counters["non2xx"],
                   counters["socket"], counters["timeout"])
