"""The second workload family of the bench (issue 16): many different requests instead of one.

* ``demo``: every demo patient (demo/patients/index.json) with a complete prefetch: patient-view,
  plus order-select and order-sign with the draft the index names for that patient and hook.
* ``random``: seeded randomised patients built from the demo patients' own resources: 10 to 300
  Observations each (clones of real demo Observations of every kind, values jittered, dates spread
  over three years, IgE / eosinophils / weight re-expressed in other accepted units: IU/mL, kU/L,
  ng/mL, IU/L; /uL, 10*9/L, 10*3/uL, /mm3; kg, g, lb), the demo's Conditions, medications and
  allergies, and for the order hooks one to three drafts (omalizumab, mepolizumab, cyclosporine).
* ``fetch``: patient-view for every demo patient with an EMPTY prefetch and `fhirServer` set, so the
  service fetches every key from a FHIR server (the bench starts the demo FHIR server for it).

Every request is built from the data as of `today` (the demo store shifts its dates to it), so the
service needs no CDS_CLOCK. Nothing runs at import time.
"""

from __future__ import annotations

import copy
import random
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

import workload

RANDOM_SEED = 16
RANDOM_PATIENTS = 40
MIN_OBS, MAX_OBS = 10, 300

# kind -> (UCUM code, unit text, factor from the canonical unit): value_in_unit = canonical * factor
ALT_UNITS: dict[str, list[tuple[str, str, float]]] = {
    "total-ige": [("[IU]/mL", "IU/mL", 1.0), ("k[IU]/L", "kU/L", 1.0), ("ng/mL", "ng/mL", 2.42),
                  ("[IU]/L", "IU/L", 1000.0)],
    "eosinophils": [("/uL", "cells/uL", 1.0), ("10*9/L", "10*9/L", 0.001), ("10*3/uL", "10*3/uL", 0.001),
                    ("/mm3", "/mm3", 1.0)],
    "weight": [("kg", "kg", 1.0), ("g", "g", 1000.0), ("[lb_av]", "lb", 2.2046226218)],
}
CANONICAL = {"total-ige": ("[IU]/mL", 1.0), "eosinophils": ("/uL", 1.0), "weight": ("kg", 1.0)}


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _store(today: date):
    from demo import store

    return store.store_for(today)


def _index() -> dict:
    from demo import store

    return store.raw_index()


def _demo(slug: str, today: date) -> dict:
    st = _store(today)
    bundle = st.bundles[slug]
    resources = [e["resource"] for e in bundle.get("entry", [])]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    return {"resources": resources, "patient_id": patient["id"], "clock": today.isoformat(), "slug": slug}


def _draft_bundle(drafts: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": d} for d in drafts]}


def _entry(hook: str, body: dict, family: str, label: str) -> dict:
    service = {"patient-view": workload.PATIENT_VIEW_SERVICE,
               "order-select": workload.ORDER_SELECT_SERVICE}.get(hook, workload.ORDER_SERVICE)
    return {"family": family, "label": label, "hook": hook, "path": f"/cds-services/{service}", "body": body}


def demo_family(today: date | None = None) -> list[dict]:
    today = today or _today()
    st = _store(today)
    out = []
    for p in _index()["patients"]:
        demo = _demo(p["slug"], today)
        ctx = {"userId": workload.USER_ID, "patientId": demo["patient_id"], "encounterId": "bench-encounter"}
        prefetch = workload.complete_prefetch(demo, ctx, workload.PATIENT_VIEW_SERVICE)
        out.append(_entry("patient-view", workload.hook_request("patient-view", demo,
                   service_id=workload.PATIENT_VIEW_SERVICE, prefetch=prefetch), "demo", p["slug"]))
        for hook in ("order-select", "order-sign"):
            draft_id = (p["expected"].get(hook) or {}).get("draft")
            if not draft_id:
                continue
            draft = st.draft_for(draft_id, demo["patient_id"])
            extra: dict[str, Any] = {"draftOrders": _draft_bundle([draft])}
            if hook == "order-select":
                extra["selections"] = [f"MedicationRequest/{draft['id']}"]
            out.append(_entry(hook, workload.hook_request(hook, demo, service_id=workload.ORDER_SERVICE,
                                                          extra_context=extra, prefetch=copy.deepcopy(prefetch)),
                              "demo", f"{p['slug']}/{draft_id}"))
    return out


def _kind(resource: dict) -> str | None:
    from fhir_mappings.observations import match_loinc

    lc, _, _ = match_loinc(resource.get("code") or {})
    return lc.kind if lc is not None else None


def _observation_pool(today: date) -> list[tuple[str | None, dict]]:
    st = _store(today)
    return [(_kind(r), r) for r in st.all_of("Observation") if "valueQuantity" in r or "component" in r]


def _re_unit(obs: dict, kind: str, rng: random.Random) -> None:
    vq = obs.get("valueQuantity")
    if not isinstance(vq, dict) or not isinstance(vq.get("value"), (int, float)):
        return
    code = vq.get("code")
    here = next((f for c, _, f in ALT_UNITS[kind] if c == code), None)
    if here is None:
        return
    canonical = vq["value"] / here * rng.uniform(0.7, 1.4)
    ucum, text, factor = rng.choice(ALT_UNITS[kind])
    value = canonical * factor
    vq.update({"value": round(value, 3) if value < 100 else round(value, 1), "unit": text,
               "system": "http://unitsofmeasure.org", "code": ucum})


def _shift_dates(obj: Any, days: int) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, str) and k in ("effectiveDateTime", "issued") and len(v) >= 10:
                obj[k] = workload._shift(v, days)
            else:
                _shift_dates(v, days)
    elif isinstance(obj, list):
        for v in obj:
            _shift_dates(v, days)


def random_family(n_patients: int = RANDOM_PATIENTS, seed: int = RANDOM_SEED, today: date | None = None) -> list[dict]:
    today = today or _today()
    rng = random.Random(seed)
    st = _store(today)
    pool = _observation_pool(today)
    slugs = [p["slug"] for p in _index()["patients"]]
    drafts = [d["id"] for d in _index()["drafts"]]
    out = []
    for i in range(n_patients):
        base = _demo(rng.choice(slugs), today)
        pid = f"bench-random-{i}"
        n_obs = rng.randint(MIN_OBS, MAX_OBS)
        others = [copy.deepcopy(r) for r in base["resources"] if r["resourceType"] != "Observation"]
        observations = []
        own = [r for r in base["resources"] if r["resourceType"] == "Observation"]
        for j in range(n_obs):
            src = own[j] if j < len(own) else rng.choice(pool)[1]
            obs = copy.deepcopy(src)
            obs["id"] = f"{pid}-obs-{j}"
            if j >= len(own):  # clones are older than the patient's own newest results
                _shift_dates(obs, rng.randint(30, 3 * 365))
                kind = _kind(obs)
                if kind in ALT_UNITS:
                    _re_unit(obs, kind, rng)
            observations.append(obs)
        resources = []
        for r in others + observations:
            r = dict(r)
            if r["resourceType"] == "Patient":
                r["id"] = pid
            elif "subject" in r:
                r["subject"] = {"reference": f"Patient/{pid}"}
            elif "patient" in r:
                r["patient"] = {"reference": f"Patient/{pid}"}
            resources.append(r)
        demo = {"resources": resources, "patient_id": pid, "clock": today.isoformat(), "slug": base["slug"]}
        hook = rng.choice(("patient-view", "patient-view", "order-select", "order-sign"))
        ctx = {"userId": workload.USER_ID, "patientId": pid, "encounterId": "bench-encounter"}
        prefetch = _prefetch_for(resources, ctx)
        extra: dict[str, Any] = {}
        label = f"{base['slug']}/{n_obs}obs"
        if hook != "patient-view":
            chosen = rng.sample(drafts, rng.randint(1, 3))
            ds = []
            for k, d in enumerate(chosen):
                draft = st.draft_for(d, pid)
                draft["id"] = f"{draft['id']}-{i}-{k}"
                ds.append(draft)
            extra["draftOrders"] = _draft_bundle(ds)
            if hook == "order-select":
                extra["selections"] = [f"MedicationRequest/{ds[0]['id']}"]
            label += "/" + "+".join(chosen)
        body = workload.hook_request(hook, demo, service_id=workload.ORDER_SERVICE, extra_context=extra,
                                     prefetch=prefetch)
        out.append(_entry(hook, body, "random", label))
    return out


def _prefetch_for(resources: list[dict], context: dict) -> dict:
    """Every discovery template answered by the demo search over `resources` (not the demo store)."""
    from urllib.parse import parse_qsl

    from cds_service.prefetch import render_template
    from demo import fhir_search

    by_type: dict[str, list[dict]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    out: dict[str, Any] = {}
    for key, template in workload.prefetch_templates(workload.PATIENT_VIEW_SERVICE).items():
        query = render_template(template, context)
        if query is None:
            out[key] = None
            continue
        if "?" not in query:
            rtype, _, rid = query.partition("/")
            out[key] = next((copy.deepcopy(r) for r in by_type.get(rtype, []) if r.get("id") == rid), None)
            continue
        rtype, _, qs = query.partition("?")
        result = fhir_search.search(by_type.get(rtype, []), rtype, parse_qsl(qs, keep_blank_values=True))
        out[key] = workload.searchset(copy.deepcopy(result.page))
    return out


def fetch_family(fhir_base: str, today: date | None = None) -> list[dict]:
    """patient-view with an empty prefetch for every demo patient: the service fetches every key."""
    today = today or _today()
    out = []
    for p in _index()["patients"]:
        demo = _demo(p["slug"], today)
        body = workload.hook_request("patient-view", demo, service_id=workload.PATIENT_VIEW_SERVICE, prefetch={})
        body["fhirServer"] = fhir_base
        body["fhirAuthorization"] = {"access_token": "bench-token", "token_type": "Bearer", "expires_in": 3600,
                                     "scope": "patient/*.read", "subject": "bench"}
        out.append(_entry("patient-view", body, "fetch", p["slug"]))
    return out


def family_requests(name: str, limit: int | None = None, fhir_base: str | None = None) -> list[dict]:
    if name == "demo":
        reqs = demo_family()
    elif name == "random":
        reqs = random_family()
    elif name == "fetch":
        reqs = fetch_family(fhir_base or "http://127.0.0.1:8080/demo/fhir")
    else:
        raise ValueError(f"unknown workload family {name!r}")
    return reqs[:limit] if limit else reqs


def observation_count(body: dict) -> int:
    return workload.count_observations(body.get("prefetch") or {})


def fresh_instance(body: dict) -> dict:
    return dict(body, hookInstance=str(uuid.uuid4()))


__all__ = ["demo_family", "random_family", "fetch_family", "family_requests", "observation_count",
           "fresh_instance", "timedelta"]
