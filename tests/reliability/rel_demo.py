"""Realistic hook requests from the demo patients (demo/patients), for contract checks and seeded fuzzing.

The prefetch is every discovery template answered from the patient's own resources through the demo
FHIR search, as a CDS client would send it; order hooks carry the demo draft orders.  The dates are
those of the demo anchor date, which callers use as CDS_CLOCK.
"""
from __future__ import annotations

import copy
import functools
import re
import uuid
from datetime import date
from typing import Any
from urllib.parse import parse_qsl

ANCHOR = date(2026, 11, 1)
CLOCK = ANCHOR.isoformat()
DRAFTS = ("draft-omalizumab-300mg-q4w", "draft-omalizumab-150mg-q4w", "draft-cyclosporine-150mg-bid")
SERVICE = {"patient-view": "omalizumab-patient-view", "order-select": "omalizumab-order-review",
           "order-sign": "omalizumab-order-review"}


@functools.cache
def _store():
    from demo import store

    return store.store_for(ANCHOR)


def slugs() -> list[str]:
    return sorted(_store().bundles)


def resources(slug: str) -> list[dict]:
    return [copy.deepcopy(e["resource"]) for e in _store().bundles[slug]["entry"]]


def prefetch_for(res: list[dict], patient_id: str) -> dict:
    import fhir_mappings
    from demo import fhir_search

    out: dict[str, Any] = {}
    for key, template in fhir_mappings.prefetch_templates().items():
        query = re.sub(r"\{\{\s*context\.patientId\s*\}\}", patient_id, template)
        rtype, _, qs = query.partition("?")
        if not qs:
            rtype, _, rid = query.partition("/")
            out[key] = next((copy.deepcopy(r) for r in res if r["resourceType"] == rtype and r["id"] == rid), None)
            continue
        found = fhir_search.search([r for r in res if r["resourceType"] == rtype], rtype,
                                   parse_qsl(qs, keep_blank_values=True))
        out[key] = {"resourceType": "Bundle", "type": "searchset",
                    "entry": [{"resource": copy.deepcopy(r)} for r in found.page]}
    return out


def request_for(slug: str, hook: str = "patient-view", draft_ids: tuple[str, ...] = ()) -> dict:
    res = resources(slug)
    pid = next(r["id"] for r in res if r["resourceType"] == "Patient")
    context: dict[str, Any] = {"userId": "Practitioner/demo-practitioner", "patientId": pid}
    if hook != "patient-view":
        drafts = [_store().draft_for(d, pid) for d in draft_ids]
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": d} for d in drafts if d]}
        if hook == "order-select":
            context["selections"] = [f"MedicationRequest/{d['id']}" for d in drafts if d][:1]
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context,
            "prefetch": prefetch_for(res, pid)}


def all_requests() -> list[tuple[str, str, dict]]:
    """(label, service id, request) for every demo patient in patient-view and both order hooks."""
    out = []
    for slug in slugs():
        out.append((f"{slug}/patient-view", SERVICE["patient-view"], request_for(slug)))
        for hook in ("order-select", "order-sign"):
            for d in DRAFTS:
                out.append((f"{slug}/{hook}/{d}", SERVICE[hook], request_for(slug, hook, (d,))))
    return out
