"""The realistic requests the benchmark sends, built from the allergic-asthma demo patient.

* patient-view with a COMPLETE prefetch: every discovery template of the patient-view service,
  answered from the demo patient's resources (through the service's own demo FHIR server when it
  has one, else by a small FHIR-search evaluator over the patient's resources).
* order-sign with one omalizumab draft MedicationRequest (RxNorm from `fhir_mappings.rxnorm_for`).
* feedback for a card uuid the service returned.
* scaling variants of patient-view whose prefetch holds N Observations (clones of the patient's
  own Observations with new ids and earlier dates, so they are as realistic as the originals).

Nothing here runs at import time; `run_bench.py` and `tests/perf/` call these functions.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import parse_qsl

REPO = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO / "demo" / "patients"
USER_ID = "Practitioner/bench-clinician"

PATIENT_VIEW_SERVICE = "omalizumab-patient-view"
ORDER_SERVICE = "omalizumab-order-review"


# -- demo patient ---------------------------------------------------------------------------------
def find_demo_patient(preferred: str = "allergic-asthma") -> Path:
    """The allergic-asthma adult demo patient file (name or content mentions it)."""
    files = sorted(DEMO_DIR.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no demo patients in {DEMO_DIR}")
    named = [f for f in files if preferred in f.name and "child" not in f.name and "pediatric" not in f.name]
    if named:
        return named[0]
    for f in files:
        if preferred in f.read_text(errors="replace")[:4000]:
            return f
    raise FileNotFoundError(f"no {preferred} demo patient in {DEMO_DIR}: {[f.name for f in files]}")


def _resources(doc: Any) -> list[dict]:
    """All resources in a demo file: a Bundle, a list, or a dict with 'resources'/'bundle'."""
    if isinstance(doc, list):
        out: list[dict] = []
        for item in doc:
            out.extend(_resources(item))
        return out
    if not isinstance(doc, dict):
        return []
    if doc.get("resourceType") == "Bundle":
        out = []
        for entry in doc.get("entry") or []:
            res = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(res, dict):
                out.extend(_resources(res) if res.get("resourceType") == "Bundle" else [res])
        return out
    if "resourceType" in doc:
        return [doc]
    for key in ("resources", "bundle", "fhir", "data"):
        if key in doc:
            return _resources(doc[key])
    return []


@cache
def load_demo(path: str) -> dict:
    doc = json.loads(Path(path).read_text())
    resources = _resources(doc)
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), None)
    if patient is None:
        raise ValueError(f"{path}: no Patient resource")
    clock = None
    if isinstance(doc, dict):
        for key in ("clock", "evaluationDate", "evaluation_date", "today"):
            if isinstance(doc.get(key), str):
                clock = doc[key][:10]
        meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
        for key in ("clock", "evaluationDate"):
            if isinstance(meta.get(key), str):
                clock = meta[key][:10]
    return {"doc": doc, "resources": resources, "patient_id": patient["id"], "clock": clock,
            "prefetch": doc.get("prefetch") if isinstance(doc, dict) else None}


# -- prefetch from templates ------------------------------------------------------------------------
def fill_template(template: str, context: dict) -> str:
    def sub(m: re.Match) -> str:
        token = m.group(1).strip()
        if token.startswith("context."):
            return str(context.get(token[len("context."):], ""))
        if token == "userPractitionerId" and str(context.get("userId", "")).startswith("Practitioner/"):
            return context["userId"].split("/", 1)[1]
        return ""
    return re.sub(r"\{\{([^}]+)\}\}", sub, template)


def _codings(resource: dict) -> Iterable[dict]:
    for field in ("code", "medicationCodeableConcept", "vaccineCode"):
        cc = resource.get(field)
        if isinstance(cc, dict):
            yield from (c for c in cc.get("coding") or [] if isinstance(c, dict))
    for cc in resource.get("category") or []:
        if isinstance(cc, dict):
            yield from (c for c in cc.get("coding") or [] if isinstance(c, dict))


def _refers_to_patient(resource: dict, patient_id: str) -> bool:
    for field in ("subject", "patient"):
        ref = resource.get(field)
        if isinstance(ref, dict) and ref.get("reference") in (f"Patient/{patient_id}", patient_id):
            return True
    return False


def _when(resource: dict) -> str:
    for field in ("effectiveDateTime", "issued", "authoredOn", "recordedDate", "onsetDateTime",
                  "dateAsserted"):
        if isinstance(resource.get(field), str):
            return resource[field]
    period = resource.get("effectivePeriod")
    if isinstance(period, dict) and isinstance(period.get("start"), str):
        return period["start"]
    return ""


def search(resources: list[dict], query: str, patient_id: str) -> dict | None:
    """Evaluate a prefetch query (read, or search by patient / code token / _sort / _count)."""
    if "?" not in query:
        rtype, _, rid = query.partition("/")
        return next((r for r in resources if r.get("resourceType") == rtype and r.get("id") == rid), None)
    rtype, _, qs = query.partition("?")
    matches = [r for r in resources if r.get("resourceType") == rtype]
    count, sort = None, None
    for name, value in parse_qsl(qs, keep_blank_values=True):
        base = name.split(":", 1)[0]
        if base in ("patient", "subject"):
            matches = [r for r in matches if _refers_to_patient(r, patient_id)]
        elif base in ("code", "category"):
            tokens = [t for t in value.split(",") if t]

            def hit(r: dict) -> bool:
                for c in _codings(r):
                    for t in tokens:
                        system, sep, code = t.rpartition("|")
                        if c.get("code") == code and (not sep or not system or c.get("system") == system):
                            return True
                return False
            matches = [r for r in matches if hit(r)]
        elif base == "_count":
            count = int(value)
        elif base == "_sort":
            sort = value
        # other parameters (status filters, dates) are not applied: a superset is still realistic
    if sort and sort.lstrip("-") == "date":
        matches.sort(key=_when, reverse=sort.startswith("-"))
    if count is not None:
        matches = matches[:count]
    return searchset(matches)


def searchset(resources: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, r['resourceType'] + '/' + str(r.get('id')))}",
                       "resource": r, "search": {"mode": "match"}} for r in resources]}


def prefetch_templates(service_id: str) -> dict[str, str]:
    """Discovery prefetch templates of a service, read from the service code (no server needed)."""
    try:
        from cds_service import services
        return dict(services.prefetch_templates())
    except Exception:  # noqa: BLE001 - older/newer layouts: fall back to the mappings' seam
        import fhir_mappings
        return dict(fhir_mappings.prefetch_templates())


def complete_prefetch(demo: dict, context: dict, service_id: str) -> dict:
    """Every template key answered (the demo file's own prefetch wins when it has one)."""
    if isinstance(demo.get("prefetch"), dict) and demo["prefetch"]:
        return copy.deepcopy(demo["prefetch"])
    out = {}
    for key, template in prefetch_templates(service_id).items():
        out[key] = search(demo["resources"], fill_template(template, context), demo["patient_id"])
    return out


# -- requests ------------------------------------------------------------------------------------
def omalizumab_draft(patient_id: str) -> dict:
    coding = []
    try:
        import fhir_mappings
        found = fhir_mappings.rxnorm_for("omalizumab")
        if found:
            coding = [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": found[0],
                       "display": found[1]}]
    except Exception:  # noqa: BLE001 - the text still identifies the drug
        coding = []
    return {
        "resourceType": "MedicationRequest",
        "id": "bench-omalizumab-draft",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {**({"coding": coding} if coding else {}), "text": "omalizumab"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "dosageInstruction": [{
            "text": "300 mg subcutaneously every 4 weeks",
            "route": {"coding": [{"system": "http://snomed.info/sct", "code": "34206005",
                                  "display": "Subcutaneous route"}]},
            "timing": {"repeat": {"frequency": 1, "period": 4, "periodUnit": "wk"}},
            "doseAndRate": [{"doseQuantity": {"value": 300, "unit": "mg",
                                              "system": "http://unitsofmeasure.org", "code": "mg"}}],
        }],
    }


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
    draft = omalizumab_draft(demo["patient_id"])
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
