"""Facts and draft orders of every demo patient (demo/patients/), as the service would extract them:
varied, realistic inputs for the tests that compare a fast path with the plain one."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from tests.e2e.hooks import ANCHOR, draft, hook_request, patient_id_of, patient_resources

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo" / "patients"
DRAFT_IDS = ("draft-omalizumab-150mg-q4w", "draft-omalizumab-300mg-q4w", "draft-cyclosporine-150mg-bid",
             "draft-mepolizumab-100mg-q4w")
HOOKS = ("patient-view", "order-select", "order-sign")


def demo_slugs() -> tuple[str, ...]:
    index = json.loads((DEMO_DIR / "index.json").read_text())
    return tuple(p["slug"] for p in index["patients"])


@cache
def demo_inputs(slug: str, hook: str) -> tuple:
    """(facts, drafts, drafts JSON by reference, patient id) for one demo patient and hook (order hooks:
    every demo draft, for this patient)."""
    import fhir_mappings

    resources = patient_resources(slug)
    patient_id = patient_id_of(resources)
    drafts_json = [draft(d, patient_id) for d in DRAFT_IDS] if hook != "patient-view" else []
    request = hook_request(hook, resources, drafts=drafts_json)
    context = request["context"]
    facts = fhir_mappings.extract_facts(request["prefetch"], patient_id=patient_id, evaluation_date=ANCHOR)
    drafts = ()
    if hook != "patient-view":
        drafts = fhir_mappings.extract_draft_orders(context.get("draftOrders"), context.get("selections"),
                                                    hook=hook)
    by_ref = {f"MedicationRequest/{d['id']}": d for d in drafts_json}
    return facts, drafts, by_ref, patient_id
