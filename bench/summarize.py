#!/usr/bin/env python3
"""Markdown tables from several full bench runs (their latest.json files), one row per run.

    .venv/bin/python bench/summarize.py run1/latest.json run2/latest.json ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCENARIOS = ("patient-view", "order-sign", "feedback", "family-demo", "family-random", "fetch")


def main(paths: list[str]) -> int:
    runs = [(Path(p).parent.name, json.loads(Path(p).read_text())) for p in paths]
    print("| run | scenario | conn. | service req/s | floor req/s | ratio (rounds) | p50 / p99 ms (worst round p99) "
          "| CPU us/req service / floor |")
    print("|---|---|---|---|---|---|---|---|")
    for name, res in runs:
        for sc in SCENARIOS:
            by = res["scenarios"].get(sc)
            if not by:
                continue
            for conn in ("1", "16"):
                s, f = by["service"].get(conn), by["floor"].get(conn)
                if not s or not f:
                    continue
                fhir = s.get("fhir_server_cpu_us_per_request")
                cpu = f"{s.get('worker_cpu_us_per_request')} / {f.get('worker_cpu_us_per_request')}"
                if fhir is not None:
                    cpu += f" (+ FHIR server {fhir})"
                rounds = ", ".join(f"{r:.2f}" for r in s.get("ratio_by_round") or [])
                if s.get("ratio_to_static_floor") is not None:
                    rounds += f"; static floor {s['ratio_to_static_floor']:.3f}"
                print(f"| {name} | {sc} | {conn} | {s['rps']:,.0f} | {f['rps']:,.0f} | "
                      f"{s['ratio_to_floor']:.3f} ({rounds}) | {s['latency_ms']['p50']:.1f} / "
                      f"{s['latency_ms']['p99']:.1f} ({s.get('p99_ms_worst_round', s['latency_ms']['p99']):.1f}) | {cpu} |")
    print()
    print("| run | load avg start / end | failed targets | 1,000 Obs HTTP p50 ms | decision p50 ms |")
    print("|---|---|---|---|---|")
    for name, res in runs:
        failed = [c["target"] for c in res["targets"] if not c["ok"]]
        m = res["machine"]
        print(f"| {name} | {m['loadavg_at_start'][0]} / {m['loadavg_at_end'][0]} | "
              f"{len(failed)}: {'; '.join(failed) or 'none'} | "
              f"{res['scaling']['http']['1000']['p50_ms']} | {res.get('decision_benchmark', {}).get('p50_ms')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
