"""The realistic requests the benchmark sends, built from the allergic-asthma demo patient.

* patient-view with a COMPLETE prefetch: every discovery template of the service, answered by the
  project's demo FHIR store and search (`demo.store`, `demo.fhir_search`: what /demo/fhir serves),
  dates as of the demo's anchor date (also given to the service as CDS_CLOCK).
* order-sign with the demo's omalizumab 300 mg q4w draft MedicationRequest.
* feedback for a card uuid the service returned.
* scaling variants of patient-view whose prefetch holds N Observations (clones of the patient's
  own Observations with new ids and earlier dates, so they are as realistic as the originals).

Nothing here runs at import time; `run_bench.py` and `tests/perf/` call these functions.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

REPO = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO / "demo" / "patients"
USER_ID = "Practitioner/bench-clinician"

PATIENT_VIEW_SERVICE = "omalizumab-patient-view"
ORDER_SERVICE = "omalizumab-order-review"  # order-sign
ORDER_SELECT_SERVICE = "omalizumab-order-select"  # order-select (discovery lists one id per hook)


# -- demo patient ---------------------------------------------------------------------------------
DEMO_SLUG = "allergic-asthma-adult"
ORDER_SIGN_DRAFT = "draft-omalizumab-300mg-q4w"


def find_demo_patient(slug: str = DEMO_SLUG) -> Path:
    """The allergic-asthma adult demo patient's bundle."""
    path = DEMO_DIR / f"{slug}.json"
    if not path.exists():
        raise FileNotFoundError(f"demo patient {path} not found")
    return path


def _resources(doc: Any) -> list[dict]:
    if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        return [e["resource"] for e in doc.get("entry") or [] if isinstance(e, dict) and "resource" in e]
    return [doc] if isinstance(doc, dict) and "resourceType" in doc else []


@cache
def load_demo(path: str) -> dict:
    """The demo patient as of the demo's anchor date (CDS_CLOCK for the service), so every run sees the
    same data and the same decisions whatever the calendar says."""
    doc = json.loads(Path(path).read_text())
    resources = _resources(doc)
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), None)
    if patient is None:
        raise ValueError(f"{path}: no Patient resource")
    clock = None
    index = DEMO_DIR / "index.json"
    if index.exists():
        clock = json.loads(index.read_text()).get("anchorDate")
    return {"resources": resources, "patient_id": patient["id"], "clock": clock, "slug": Path(path).stem}


# -- prefetch from templates ------------------------------------------------------------------------
def searchset(resources: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, r['resourceType'] + '/' + str(r.get('id')))}",
                       "resource": r, "search": {"mode": "match"}} for r in resources]}


def prefetch_templates(service_id: str) -> dict[str, str]:
    """Discovery prefetch templates (the service's own source of truth, no server needed)."""
    from cds_service import services

    return services.prefetch_templates()  # a fresh dict


def demo_search(query: str, clock: str | None) -> Any:
    """Answer a query with the project's demo FHIR store and search (what /demo/fhir serves)."""
    from demo import fhir_search, store

    today = date.fromisoformat(clock) if clock else date.today()
    st = store.store_for(today)
    if "?" not in query:
        rtype, _, rid = query.partition("/")
        return st.read(rtype, rid)
    rtype, _, qs = query.partition("?")
    result = fhir_search.search(list(st.all_of(rtype)), rtype, parse_qsl(qs, keep_blank_values=True))
    return searchset(copy.deepcopy(result.page))


def complete_prefetch(demo: dict, context: dict, service_id: str) -> dict:
    """Every discovery template of the service, answered for the demo patient."""
    from cds_service.prefetch import render_template  # the tokens exactly as the service fills them

    out = {}
    for key, template in prefetch_templates(service_id).items():
        query = render_template(template, context)
        out[key] = demo_search(query, demo["clock"]) if query is not None else None
    return out


# -- requests ------------------------------------------------------------------------------------
def omalizumab_draft(patient_id: str, clock: str | None = None) -> dict:
    """The demo's omalizumab 300 mg q4w draft (what the demo page sends at order-sign)."""
    from demo import store

    today = date.fromisoformat(clock) if clock else date.today()
    draft = store.store_for(today).draft_for(ORDER_SIGN_DRAFT, patient_id)
    if draft is None:
        raise LookupError(f"demo draft {ORDER_SIGN_DRAFT} not found")
    return draft


def hook_request(hook: str, demo: dict, *, service_id: str, extra_context: dict | None = None,
                 prefetch: dict | None = None) -> dict:
    context = {"userId": USER_ID, "patientId": demo["patient_id"], **(extra_context or {})}
    if hook == "patient-view":
        context.setdefault("encounterId", "bench-encounter")
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": prefetch if prefetch is not None else complete_prefetch(demo, context, service_id),
    }


def patient_view_request(demo: dict) -> dict:
    return hook_request("patient-view", demo, service_id=PATIENT_VIEW_SERVICE)


def order_sign_request(demo: dict) -> dict:
    draft = omalizumab_draft(demo["patient_id"], demo["clock"])
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]}
    return hook_request("order-sign", demo, service_id=ORDER_SERVICE,
                        extra_context={"draftOrders": bundle})


def feedback_request(card_uuid: str, *, outcome: str = "overridden") -> dict:
    entry: dict[str, Any] = {
        "card": card_uuid,
        "outcome": outcome,
        "outcomeTimestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if outcome == "overridden":
        entry["overrideReason"] = {"userComment": "benchmark feedback"}
    return {"feedback": [entry]}


# -- scaling -----------------------------------------------------------------------------------
def _observation_keys(prefetch: dict) -> list[str]:
    keys = []
    for key, value in prefetch.items():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            if any((e.get("resource") or {}).get("resourceType") == "Observation" for e in value.get("entry") or []):
                keys.append(key)
    return keys


def count_observations(prefetch: dict) -> int:
    return sum(1 for v in prefetch.values() if isinstance(v, dict) and v.get("resourceType") == "Bundle"
               for e in v.get("entry") or [] if (e.get("resource") or {}).get("resourceType") == "Observation")


def _shift(value: str, days: int) -> str:
    try:
        if len(value) == 10:
            return (date.fromisoformat(value) - timedelta(days=days)).isoformat()
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (dt - timedelta(days=days)).isoformat().replace("+00:00", "Z")
    except ValueError:
        return value


def with_observations(prefetch: dict, n: int) -> dict:
    """A copy of `prefetch` whose Observation bundles hold exactly `n` Observations in total: the
    originals first, then clones (new ids, dates moved back a week per clone round, so the newest
    results stay the originals and the decisions stay the same)."""
    out = copy.deepcopy(prefetch)
    keys = _observation_keys(out)
    if not keys:
        raise ValueError("the prefetch has no Observation bundle to scale")
    originals = {k: [e for e in out[k]["entry"] if (e.get("resource") or {}).get("resourceType") == "Observation"]
                 for k in keys}
    for k in keys:
        out[k]["entry"] = [e for e in out[k]["entry"] if e not in originals[k]]
    pool = [(k, e) for k in keys for e in originals[k]]
    added = 0
    rnd = 0
    while added < n:
        for k, entry in pool:
            if added >= n:
                break
            clone = copy.deepcopy(entry)
            res = clone["resource"]
            if rnd:
                res["id"] = f"{res.get('id', 'obs')}-s{rnd}"
                if "fullUrl" in clone:
                    clone["fullUrl"] = f"urn:uuid:{uuid.uuid4()}"
                for field in ("effectiveDateTime", "issued"):
                    if isinstance(res.get(field), str):
                        res[field] = _shift(res[field], 7 * rnd)
            out[k]["entry"].append(clone)
            added += 1
        rnd += 1
    for k in keys:
        out[k]["total"] = len(out[k]["entry"])
    return out
