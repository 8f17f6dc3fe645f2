#!/usr/bin/env python3
"""Byte-identical answers before and after a performance change: a corpus of hook requests, their
card JSON (uuids blanked) and facts, saved on one commit and compared on another.

    git stash / checkout the old code:  .venv/bin/python bench/differential.py --save /tmp/before.json
    the new code:                       .venv/bin/python bench/differential.py --compare /tmp/before.json

The corpus: every demo patient x hook x demo draft (patient-view; order-select and order-sign with each
of the four demo drafts), the bench's randomised family (seeded, 10-300 Observations, mixed units,
several drafts), and seeded mutations of the demo requests (values, units, statuses, codes, dates,
elements removed, set to null or to a wrong type), each through `pipeline.evaluate` in-process with a
fixed evaluation date. A request that raises is recorded with its exception type.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import random
import re
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import families  # noqa: E402
import workload  # noqa: E402

TODAY = date(2026, 12, 3)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def corpus(mutations: int) -> list[tuple[str, dict]]:
    from demo import store

    st = store.store_for(TODAY)
    drafts = [d["id"] for d in store.raw_index()["drafts"]]
    out: list[tuple[str, dict]] = []
    base = [r for r in families.demo_family(TODAY) if r["hook"] == "patient-view"]
    for r in base:
        out.append((r["label"] + "/patient-view", r["body"]))
        pid = r["body"]["context"]["patientId"]
        for hook in ("order-select", "order-sign"):
            for d in drafts:
                draft = st.draft_for(d, pid)
                body = copy.deepcopy(r["body"])
                body["hook"] = hook
                body["context"]["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                                  "entry": [{"resource": draft}]}
                if hook == "order-select":
                    body["context"]["selections"] = [f"MedicationRequest/{draft['id']}"]
                out.append((f"{r['label']}/{hook}/{d}", body))
    for r in families.random_family(today=TODAY):
        out.append((r["label"], r["body"]))
    rng = random.Random(1616)
    seeds = [b for _, b in out[: len(out)]]
    for i in range(mutations):
        body = copy.deepcopy(rng.choice(seeds[: len(base) * 9]))
        _mutate(body, rng)
        out.append((f"mutation-{i}", body))
    return out


_VALUES = [None, "", " ", 0, -1, 1.5, 1e308, "abc", [], {}, True, "2026-02-30", "2026-13-01", "2026",
           "2026-11", "2026-11-01T25:00:00Z", "final", "preliminary", "entered-in-error", "kg", "[lb_av]",
           "mg/dL", "10*9/L", "%", "k[IU]/L", "ng/mL", "http://loinc.org", "19113-0", "29463-7", "26449-9"]


def _paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


def _mutate(body: dict, rng: random.Random) -> None:
    prefetch = body.get("prefetch") or {}
    for _ in range(rng.randint(1, 4)):
        paths = [p for p in _paths(prefetch) if len(p) > 3]
        if not paths:
            return
        path = rng.choice(paths)
        parent = prefetch
        for k in path[:-1]:
            parent = parent[k]
        last = path[-1]
        op = rng.random()
        if op < 0.2 and isinstance(parent, dict):
            parent.pop(last, None)
        elif op < 0.35 and isinstance(parent.get(last) if isinstance(parent, dict) else parent[last], (int, float)):
            v = parent[last]
            parent[last] = v * rng.choice([0.001, 0.5, 2, 10, 1000, -1]) if not isinstance(v, bool) else v
        else:
            parent[last] = copy.deepcopy(rng.choice(_VALUES))


def answers(items: list[tuple[str, dict]]) -> dict[str, str]:
    import tempfile

    from cds_service import create_app
    from cds_service.fhir_client import NoFhirAccess
    from cds_service.pipeline import evaluate

    app = create_app({"CDS_AUTH": "off", "CDS_CLOCK": TODAY.isoformat(),
                      "CDS_DATABASE_URL": f"sqlite:///{tempfile.mkdtemp()}/d.sqlite3"})
    settings = app.extensions["cds_settings"]
    out = {}
    with app.app_context():
        for label, body in items:
            try:
                res = evaluate(copy.deepcopy(body), settings=settings, fhir_client=NoFhirAccess("differential"))
                text = _UUID.sub("<uuid>", json.dumps(res, sort_keys=False, ensure_ascii=False))
            except Exception as exc:  # noqa: BLE001 - recorded, compared like an answer
                text = f"raised {type(exc).__name__}"
            out[label] = text
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--save", type=Path)
    ap.add_argument("--compare", type=Path)
    ap.add_argument("--mutations", type=int, default=1500)
    args = ap.parse_args(argv)
    got = answers(corpus(args.mutations))
    digest = hashlib.sha256(json.dumps(got, sort_keys=True).encode()).hexdigest()
    print(f"{len(got)} requests, digest {digest[:16]}")
    if args.save:
        args.save.write_text(json.dumps(got, indent=0, sort_keys=True))
    if args.compare:
        old = json.loads(args.compare.read_text())
        diffs = [k for k in sorted(set(old) | set(got)) if old.get(k) != got.get(k)]
        print(f"{len(diffs)} differences")
        for k in diffs[:10]:
            print(f"--- {k}\n old: {str(old.get(k))[:600]}\n new: {str(got.get(k))[:600]}")
        return 1 if diffs else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
