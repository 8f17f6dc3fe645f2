"""Smoke run of bench/run_bench.py: both servers start, every scenario answers, the JSON and the
plot are written with the structure the README and the lead rely on.  (The full benchmark is
`make bench`; it is not part of the test command.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_script_smoke(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run_bench.py"), "--smoke", "--skip-decision",
         "--output", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / "smoke.json").read_text())
    assert (tmp_path / "smoke.png").stat().st_size > 1000
    assert result["server_logs"] == [f"smoke-{n}-log.txt" for n in ("service", "floor", "floor-static", "demo-fhir")]
    kept = (tmp_path / "smoke-service-log.txt").read_text()
    assert "Booting worker" in kept and "--- last 40 lines ---" in kept

    assert result["mode"] == "smoke" and result["workers"] == 2
    assert result["connections"] == [1, 16]
    assert set(result["scenarios"]) == {"patient-view", "order-sign", "feedback", "family-demo", "family-random",
                                        "fetch"}
    for hook, by in result["scenarios"].items():
        for who in ("service", "floor"):
            for conn in ("1", "16") if "family" not in by else ("16",):
                r = by[who][conn]
                assert r["requests"] > 0, (hook, who, conn)
                assert r["errors"] == 0 and r["non2xx"] == 0, (hook, who, conn, r)
                assert r["latency_ms"]["p99"] >= r["latency_ms"]["p50"] > 0
                assert r["rps"] > 0
                assert r["worker_cpu_us_per_request"] >= 0  # /proc CPU time of the workers (10 ms ticks)
        assert by["service"]["16"]["ratio_to_floor"] > 0
    assert result["scenarios"]["patient-view"]["cards"] is None or result["scenarios"]["patient-view"]["cards"] >= 0
    http = result["scaling"]["http"]
    assert [http[n]["observations"] for n in ("10", "100", "1000")] == [10, 100, 1000]
    assert all(http[n]["errors"] == 0 for n in http)
    assert set(result["scaling"]["inprocess"]) == {"0", "10", "100", "1000"}
    workers = result["memory"]["workers"]
    assert len(workers) == 2
    assert all(w["rss_after_100_mb"] > 0 and w["rss_after_10000_mb"] > 0 for w in workers.values())
    names = {c["target"] for c in result["targets"]}
    assert any("p99 <= 30 ms" in n for n in names) and any("50% of floor" in n for n in names)
    for scenario in ("patient-view", "order-sign", "fetch", "family-demo"):
        assert f"{scenario} c16: req/s >= 50% of floor" in names, scenario
    fams = result["families"]
    assert set(fams) == {"family-demo", "family-random", "fetch"}
    assert fams["fetch"]["observations_in_prefetch"] == [0, 0]
    fetch = result["scenarios"]["fetch"]
    assert fetch["service"]["16"]["fhir_server_cpu_us_per_request"] >= 0
    assert fetch["floor"]["16"]["fhir_server_cpu_us_per_request"] > 0  # the floor reads from the server too
    assert fetch["floor_static"]["16"]["requests"] > 0 and fetch["floor_static"]["16"]["errors"] == 0
    assert fetch["service"]["16"]["ratio_to_static_floor"] > 0
    assert "floor_static" not in result["scenarios"]["patient-view"]


def test_cpu_seconds_reads_proc_stat():
    import os
    import time

    sys.path.insert(0, str(REPO / "bench"))
    import procs

    before = procs.cpu_seconds([os.getpid()])
    t0 = time.process_time()
    while time.process_time() - t0 < 0.1:  # burn 0.1 s of CPU
        pass
    spent = procs.cpu_seconds([os.getpid()]) - before
    assert 0.05 <= spent <= 5.0
    assert procs.cpu_seconds([2 ** 22 + 12345]) == 0.0  # a pid that does not exist counts nothing
