#!/usr/bin/env python3
"""Profile the service's hot path in-process with pyinstrument (Flask test client, no network).

    .venv/bin/python bench/profile_hook.py                    # patient-view, 300 requests
    .venv/bin/python bench/profile_hook.py --hook order-sign -n 500
    .venv/bin/python bench/profile_hook.py --observations 1000

Runs the same app `omalizumab-cds serve` runs (create_app, CDS_AUTH=off, a temp SQLite DB, default
logging) and the same requests as run_bench.py, after a warm-up, and prints pyinstrument's call tree;
`--html` also writes bench/results/profile-<hook>.html.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import workload  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hook", choices=("patient-view", "order-sign", "feedback"), default="patient-view")
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--observations", type=int, default=0, help="scale the prefetch to N Observations")
    ap.add_argument("--html", action="store_true")
    ap.add_argument("--interval", type=float, default=0.0002)
    args = ap.parse_args(argv)

    from pyinstrument import Profiler

    from cds_service import create_app

    demo = workload.load_demo(str(workload.find_demo_patient()))
    tmp = Path(tempfile.mkdtemp(prefix="omalizumab-profile-"))
    app = create_app({"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp / 'p.sqlite3'}",
                      "CDS_CLOCK": demo["clock"]})
    logging.getLogger("cds_service").handlers[:] = [logging.StreamHandler(open(tmp / "log", "w"))]
    client = app.test_client()
    pv = workload.patient_view_request(demo)
    if args.observations:
        pv["prefetch"] = workload.with_observations(pv["prefetch"], args.observations)
    r = client.post(f"/cds-services/{workload.PATIENT_VIEW_SERVICE}", json=pv)
    assert r.status_code == 200, r.get_data(as_text=True)[:1000]
    card_uuid = r.get_json()["cards"][0]["uuid"]
    path, body = {
        "patient-view": (f"/cds-services/{workload.PATIENT_VIEW_SERVICE}", pv),
        "order-sign": (f"/cds-services/{workload.ORDER_SERVICE}", workload.order_sign_request(demo)),
        "feedback": (f"/cds-services/{workload.PATIENT_VIEW_SERVICE}/feedback",
                     workload.feedback_request(card_uuid)),
    }[args.hook]
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    for _ in range(30):
        assert client.post(path, data=data, headers=headers).status_code < 300
    profiler = Profiler(interval=args.interval)
    t0 = time.perf_counter()
    profiler.start()
    for _ in range(args.n):
        client.post(path, data=data, headers=headers)
    profiler.stop()
    per = (time.perf_counter() - t0) / args.n * 1000
    print(f"{args.hook}: {per:.2f} ms per request in-process (profiled, {args.n} requests, "
          f"{len(data)} bytes body)")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        out = HERE / "results" / f"profile-{args.hook}.html"
        out.write_text(profiler.output_html())
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
