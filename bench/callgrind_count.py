#!/usr/bin/env python3
"""Instructions per in-process hook request, counted by callgrind (deterministic, unlike wall time).

    .venv/bin/python bench/callgrind_count.py                      # patient-view, order-sign, floor
    .venv/bin/python bench/callgrind_count.py --hook order-sign -n 100
    .venv/bin/python bench/callgrind_count.py --hook patient-view --observations 20 --keep out.cg

The app is built as `omalizumab-cds serve` builds each worker (create_app with the production defaults
except CDS_AUTH=off and a temporary SQLite file, warm_up, gc.freeze), then `-n` requests go through
Flask's WSGI app with a fresh environ each (no HTTP, no gunicorn). Only those requests are counted:
a tiny C helper (compiled on first use with gcc from valgrind's callgrind.h) switches callgrind's
instrumentation on and off around them, so start-up is not measured and runs fast. Every thread is
counted (the card log's writer thread too). "floor" is bench/floor_app.py the same way.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

_C_SOURCE = r"""
#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void cg_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT("measured"); }
"""


def _helper() -> ctypes.CDLL:
    out = Path(tempfile.gettempdir()) / f"cgtoggle-{os.getuid()}.so"
    if not out.exists():
        src = out.with_suffix(".c")
        src.write_text(_C_SOURCE)
        subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(out), str(src)], check=True)
    return ctypes.CDLL(str(out))


def _requests(hook: str, observations: int, family: str | None) -> tuple[str, list[bytes]]:
    import workload

    demo = workload.load_demo(str(workload.find_demo_patient()))
    if family:
        import families
        reqs = families.family_requests(family, limit=40)
        bodies = [(r["path"], json.dumps(r["body"]).encode()) for r in reqs if r["hook"] == hook] or \
                 [(r["path"], json.dumps(r["body"]).encode()) for r in reqs]
        return bodies[0][0], [b for _, b in bodies]
    if hook == "order-sign":
        body = workload.order_sign_request(demo)
        path = f"/cds-services/{workload.ORDER_SERVICE}"
    else:
        body = workload.patient_view_request(demo)
        if observations:
            body["prefetch"] = workload.with_observations(body["prefetch"], observations)
        path = f"/cds-services/{workload.PATIENT_VIEW_SERVICE}"
    return path, [json.dumps(body).encode()]


def _environ(path: str, body: bytes) -> dict:
    return {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:8080", "HTTP_ACCEPT": "application/json", "HTTP_USER_AGENT": "wrk",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def inner(args: argparse.Namespace) -> int:
    import gc
    import logging

    tmp = Path(tempfile.mkdtemp(prefix="omalizumab-cg-"))
    if args.hook == "floor":
        import floor_app
        app = floor_app.create_app()
        path, bodies = _requests("patient-view", 0, None)
    else:
        import workload
        demo = workload.load_demo(str(workload.find_demo_patient()))
        for key in [k for k in os.environ if k.startswith("CDS_")]:
            os.environ.pop(key)
        os.environ.update({"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp / 'cg.sqlite3'}"})
        if demo["clock"]:
            os.environ["CDS_CLOCK"] = demo["clock"]
        from cds_service import create_app
        from cds_service.server import freeze_heap
        from cds_service.warmup import warm_up
        from cds_service.db import make_engine, upgrade
        from cds_service.metrics import prepare_multiprocess_dir
        upgrade(make_engine(os.environ["CDS_DATABASE_URL"]))
        prepare_multiprocess_dir(str(tmp / "metrics"))  # as `serve` does: mmap-backed Prometheus values
        app = create_app()
        warm_up(app)
        freeze_heap()
        path, bodies = _requests(args.hook, args.observations, args.family)
        _ablate(app, os.environ.get("CG_ABLATE", ""))
    logging.getLogger("cds_service").handlers[:] = [logging.StreamHandler(open(os.devnull, "w"))] \
        if args.hook != "floor" else []
    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def one(i: int) -> None:
        body = bodies[i % len(bodies)]
        for chunk in app.wsgi_app(_environ(path, body), start_response):
            pass

    if args.stage != "request":
        one = _stage_runner(app, args.stage, path, bodies, args.n)
    for i in range(max(20, len(bodies))):
        one(i)
    gc.collect()
    if os.environ.get("CG_GC_THRESHOLD"):  # experiments: e.g. CG_GC_THRESHOLD=50000,10,10
        gc.set_threshold(*(int(x) for x in os.environ["CG_GC_THRESHOLD"].split(",")))
    helper = _helper() if args.inner_measure else None
    if helper:
        helper.cg_start()
    for i in range(args.n):
        one(i)
    if helper:
        helper.cg_stop()
    bad = [s for s in statuses if not s.startswith("2")]
    if bad:
        print(f"non-2xx answers: {bad[:3]}", file=sys.stderr)
        return 1
    return 0


def _ablate(app, what: str) -> None:
    """Experiments only (CG_ABLATE=log,metrics,cardlog,depth,validate,headers): switch a part of the
    service layer off to see what it costs. The answers are then not what the service sends."""
    from flask import Flask

    parts = {w for w in what.split(",") if w}
    after = app.after_request_funcs.get(None, [])
    before = app.before_request_funcs.get(None, [])
    if "log" in parts:
        import logging
        logging.getLogger("cds_service.requests").setLevel(logging.WARNING)
    if "logfn" in parts:
        after[:] = [f for f in after if f.__name__ != "_finish"]
        before[:] = [f for f in before if f.__name__ != "_start"]
        from flask import g
        before.insert(0, lambda: setattr(g, "cds_log", {}))
    if "metrics" in parts:
        after[:] = [f for f in after if f.__name__ != "_observe_http"]
        before[:] = [f for f in before if f.__name__ != "_start_timer"]
        from cds_service import api
        api.send_safely = lambda *a, **k: None
    if "cardlog" in parts:
        app.extensions.pop("cds_card_log", None)
    if "depth" in parts:
        from cds_service import validation
        validation._marks_depth_exceeds = lambda marks, limit: False
    if "validate" in parts:
        from cds_service import api
        api.hook_request_problems = lambda body, hooks: []
    if "headers" in parts:
        after[:] = [f for f in after if f.__name__ not in ("_headers", "cors_if_origin")]
    assert isinstance(app, Flask)


def _stage_runner(app, stage: str, path: str, bodies: list[bytes], n: int):
    """One stage of the request alone, on inputs prepared before the measured region."""
    import orjson

    import cards as cards_layer
    import clinical_core
    import fhir_mappings
    from cds_service.fhir_client import NoFhirAccess
    from cds_service.pipeline import _drafts_by_reference, _resolver, evaluate

    settings = app.extensions["cds_settings"]
    no_fhir = NoFhirAccess("callgrind stage")
    parsed = [orjson.loads(bodies[i % len(bodies)]) for i in range(n + 40)]
    ctx = app.app_context()
    ctx.push()
    if stage == "parse":
        return lambda i: orjson.loads(bodies[i % len(bodies)])
    if stage == "evaluate":
        return lambda i: evaluate(parsed[i], settings=settings, fhir_client=no_fhir)
    ev = settings.evaluation_date(None)

    def facts_of(body):
        c = body["context"]
        resolve = _resolver(body["prefetch"], c.get("draftOrders"), no_fhir, 1e18, None)
        return fhir_mappings.extract_facts(body["prefetch"], patient_id=c["patientId"], evaluation_date=ev,
                                           unavailable=(), resolve_reference=resolve)
    if stage == "extract":
        return lambda i: facts_of(parsed[i])
    facts = [facts_of(b) for b in parsed]
    if stage == "assess":
        return lambda i: clinical_core.assess(facts[i], region=settings.region)
    if stage == "orders":  # check_orders alone, on facts, drafts and the assessment prepared per request
        prepared = []
        for body, f in zip(parsed, facts):
            hook = body["hook"]
            if hook == "patient-view":
                raise SystemExit("--stage orders needs an order hook (order-sign, order-select)")
            c = body["context"]
            resolve = _resolver(body["prefetch"], c.get("draftOrders"), no_fhir, 1e18, None)
            drafts = fhir_mappings.extract_draft_orders(c.get("draftOrders"), c.get("selections"), hook=hook,
                                                        resolve_reference=resolve)
            prepared.append((f, drafts, hook, clinical_core.assess(f, region=settings.region)))

        def orders(i):
            f, drafts, hook, assessment = prepared[i]
            return clinical_core.check_orders(f, drafts, hook=hook, assessment=assessment, region=settings.region)
        return orders
    if stage == "cards":
        body = parsed[0]
        hook = body["hook"]
        assessment = clinical_core.assess(facts[0], region=settings.region)
        decisions = list(assessment.decisions)
        drafts_json = None
        if hook != "patient-view":
            c = body["context"]
            resolve = _resolver(body["prefetch"], c.get("draftOrders"), no_fhir, 1e18, None)
            drafts = fhir_mappings.extract_draft_orders(c.get("draftOrders"), c.get("selections"), hook=hook,
                                                        resolve_reference=resolve)
            decisions = list(clinical_core.check_orders(facts[0], drafts, hook=hook, assessment=assessment,
                                                        region=settings.region))
            drafts_json = _drafts_by_reference(c.get("draftOrders"))
        return lambda i: cards_layer.build_cards(decisions, hook=hook, patient_id=body["context"]["patientId"],
                                                 drafts=drafts_json)
    raise SystemExit(f"unknown stage {stage}")


def count(hook: str, n: int, observations: int = 0, family: str | None = None, keep: str | None = None,
          stage: str = "request") -> int:
    """Instructions per request (callgrind, measured region only)."""
    out = keep or tempfile.mktemp(prefix="cg-", suffix=".out")
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
           sys.executable, str(Path(__file__).resolve()), "--inner", "--inner-measure", "--hook", hook, "-n", str(n),
           "--observations", str(observations)]
    if family:
        cmd += ["--family", family]
    cmd += ["--stage", stage]
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    total = 0
    for path in sorted(Path(out).parent.glob(Path(out).name + "*")):
        text = path.read_text(errors="replace")
        m = re.search(r"^totals:\s+(\d+)", text, re.M)
        if m and "measured" in text[:2000]:  # the dump the helper asked for, not the exit dump
            total += int(m.group(1))
        if not keep:
            path.unlink()
    return round(total / n)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hook", default="all", help="patient-view, order-sign, floor or all")
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--observations", type=int, default=0)
    ap.add_argument("--family", default=None, help="a workload family of bench/families.py (demo, random)")
    ap.add_argument("--keep", default=None, help="keep the callgrind output at this path")
    ap.add_argument("--stage", default="request",
                    help="request (the whole WSGI request), or one stage alone: parse, evaluate, extract, "
                         "assess, orders (check_orders, order hooks only), cards")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--inner-measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.inner:
        return inner(args)
    hooks = ("patient-view", "order-sign", "floor") if args.hook == "all" else (args.hook,)
    for hook in hooks:
        if hook == "floor" and args.stage != "request":
            continue
        per = count(hook, args.n, args.observations, args.family, args.keep, args.stage)
        print(f"{hook:<14} {args.stage:<9} {per / 1e6:7.3f} M instructions per request (n={args.n}"
              f"{', observations=' + str(args.observations) if args.observations else ''}"
              f"{', family=' + args.family if args.family else ''})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
