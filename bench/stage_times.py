#!/usr/bin/env python3
"""Median time of each stage of one hook request, in-process (no HTTP, no profiler overhead).

    .venv/bin/python bench/stage_times.py                  # patient-view and order-sign, 2,000 runs each
    .venv/bin/python bench/stage_times.py -n 5000 --observations 1000

The stages are the ones `call_service` runs, in order: body parse and depth check, request
validation, prefetch completion, mappings (`extract_facts`), core (`assess`, `check_orders`), cards
(`build_cards` + empty-value strip), response encoding, card log.  Use it to see which layer a
change made faster; `run_bench.py` remains the judge of the targets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import workload  # noqa: E402


def _median_us(fn, n: int) -> float:
    for _ in range(min(200, n)):
        fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e6


def stage_times(body: dict, service: str, n: int) -> dict[str, float]:
    import cards as cards_layer
    import clinical_core
    import fhir_mappings
    from cds_service import create_app, services
    from cds_service.fhir_client import NoFhirAccess
    from cds_service.pipeline import _drafts_by_reference, _index_resources, _resolver, evaluate, strip_empty
    from cds_service.prefetch import complete_prefetch
    from cds_service.validation import hook_request_problems, json_depth_exceeds, read_json_body  # noqa: F401

    tmp = Path(tempfile.mkdtemp(prefix="omalizumab-stages-"))
    app = create_app({"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp / 's.sqlite3'}",
                      "CDS_CLOCK": body.pop("_clock", None) or ""})
    conf = app.extensions["cds_settings"]
    raw = json.dumps(body).encode()
    parsed = json.loads(raw)
    hook = parsed["hook"]
    context = parsed["context"]
    no_fhir = NoFhirAccess("stage timing: prefetch only")
    out: dict[str, float] = {}
    with app.test_request_context(f"/cds-services/{service}", method="POST", data=raw,
                                  content_type="application/json"):
        from flask import request
        out["parse body + depth"] = _median_us(lambda: read_json_body(request, max_depth=conf.max_json_depth), n)
        out["validate request"] = _median_us(lambda: hook_request_problems(parsed, services.hooks_for(service)), n)
        templates = fhir_mappings.prefetch_templates()
        outcome = complete_prefetch(templates, parsed.get("prefetch"), context, no_fhir, deadline=time.monotonic() + 5)
        out["complete prefetch"] = _median_us(
            lambda: complete_prefetch(templates, parsed.get("prefetch"), context, no_fhir,
                                      deadline=time.monotonic() + 5), n)
        out["index resources (on first reference)"] = _median_us(
            lambda: _index_resources(outcome.data, context.get("draftOrders")), n)
        resolve = _resolver(outcome.data, context.get("draftOrders"), no_fhir, time.monotonic() + 5, None)
        ev = conf.evaluation_date(None)

        def extract():
            return fhir_mappings.extract_facts(outcome.data, patient_id=context["patientId"], evaluation_date=ev,
                                               unavailable=(), resolve_reference=resolve)
        facts = extract()
        out["mappings: extract_facts"] = _median_us(extract, n)
        out["core: assess"] = _median_us(lambda: clinical_core.assess(facts, region=conf.region), n)
        assessment = clinical_core.assess(facts, region=conf.region)
        decisions = list(assessment.decisions)
        drafts_json = None
        if hook in ("order-select", "order-sign"):
            def drafts_of():
                return fhir_mappings.extract_draft_orders(context.get("draftOrders"), context.get("selections"),
                                                          hook=hook, resolve_reference=resolve)
            out["mappings: draft orders"] = _median_us(drafts_of, n)
            drafts = drafts_of()
            out["core: check_orders"] = _median_us(
                lambda: list(clinical_core.check_orders(facts, drafts, hook=hook, assessment=assessment,
                                                        region=conf.region)), n)
            decisions = list(clinical_core.check_orders(facts, drafts, hook=hook, assessment=assessment,
                                                        region=conf.region))
            drafts_json = _drafts_by_reference(context.get("draftOrders"))
        out["cards: build_cards"] = _median_us(
            lambda: cards_layer.build_cards(decisions, hook=hook, patient_id=context["patientId"],
                                            drafts=drafts_json), n)
        built = cards_layer.build_cards(decisions, hook=hook, patient_id=context["patientId"], drafts=drafts_json)
        out["cards: strip empty"] = _median_us(lambda: [strip_empty(c) for c in built], n)
        result = {"cards": [strip_empty(c) for c in built]}
        out["encode response"] = _median_us(lambda: app.json.dumps(result), n)
        recorder = app.extensions.get("cds_card_log")
        if recorder is not None:
            import uuid

            def record():  # fresh card uuids: the log refuses a uuid twice
                fresh = [dict(c, uuid=str(uuid.uuid4())) for c in result["cards"]]
                recorder.record(fresh, service_id=service, hook=hook, hook_instance=str(uuid.uuid4()),
                                patient_id=context["patientId"])
            out["card log record"] = _median_us(record, max(1, n // 4))
        out["TOTAL evaluate() (own parse)"] = _median_us(
            lambda: evaluate(json.loads(raw), settings=conf, fhir_client=no_fhir), n)
        fresh = [json.loads(raw) for _ in range(n + 200)]
        it = iter(fresh)

        def extract_fresh():
            data = next(it)["prefetch"]
            return fhir_mappings.extract_facts(data, patient_id=context["patientId"], evaluation_date=ev,
                                               unavailable=(), resolve_reference=resolve)
        out["extract_facts (fresh JSON)"] = _median_us(extract_fresh, n)
    out["_cards"] = len(result["cards"])
    out["_body_bytes"] = len(raw)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--observations", type=int, default=0, help="scale patient-view's prefetch to N Observations")
    args = ap.parse_args(argv)
    demo = workload.load_demo(str(workload.find_demo_patient()))
    pv = workload.patient_view_request(demo)
    if args.observations:
        pv["prefetch"] = workload.with_observations(pv["prefetch"], args.observations)
    runs = {
        "patient-view": (dict(pv, _clock=demo["clock"]), workload.PATIENT_VIEW_SERVICE),
        "order-sign": (dict(workload.order_sign_request(demo), _clock=demo["clock"]), workload.ORDER_SERVICE),
    }
    for name, (body, service) in runs.items():
        res = stage_times(body, service, args.n)
        print(f"{name} ({res.pop('_body_bytes')} bytes, {res.pop('_cards')} cards): median us")
        for stage, us in res.items():
            print(f"  {stage:<28}{us:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
