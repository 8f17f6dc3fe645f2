"""Warm a freshly started worker before it takes traffic.

Why: every layer loads its data files, compiles its patterns and imports its FHIR models lazily, on
first use (functools.cache), which keeps imports cheap and tests fast, but makes the first real
request of each gunicorn worker pay for all of it (about 0.8 s measured), and EHRs drop late cards.
`warm_up(app)` runs two synthetic hook requests (patient-view and order-sign, made-up patient, no
FHIR server, nothing written to the database) through `pipeline.evaluate`, so every lookup table,
dose table and model the hot path needs is built once, at worker start.  The serve command calls it
in each worker after create_app(); a failure is logged and never stops the worker.
"""
from __future__ import annotations

import logging
import time

log = logging.getLogger("cds_service.warmup")

_PATIENT = "warm-up"


def _searchset(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"resource": r} for r in resources]}


def _observation(oid: str, loinc: str, value: float, unit: str, ucum: str, when: str = "2020-01-01") -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": f"Patient/{_PATIENT}"}, "effectiveDateTime": f"{when}T08:00:00Z",
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": ucum}}


def synthetic_requests() -> list[dict]:
    """A made-up adult with asthma, total IgE, eosinophils and weight in units that need the UCUM
    parser (its registry is the slowest thing to build), an omalizumab draft for order-sign; every
    other prefetch key null ("no data")."""
    from fhir_mappings import prefetch_templates

    prefetch: dict = dict.fromkeys(prefetch_templates())
    prefetch.update({
        "patient": {"resourceType": "Patient", "id": _PATIENT, "birthDate": "1980-01-01"},
        "totalIge": _searchset(_observation("warm-up-ige", "19113-0", 150, "IU/mL", "[IU]/mL"),
                               _observation("warm-up-ige-old", "19113-0", 290, "ng/mL", "ng/mL", "2019-01-01")),
        "eosinophils": _searchset(_observation("warm-up-eos", "26449-9", 0.3, "10*9/L", "10*9/L")),
        "weight": _searchset(_observation("warm-up-weight", "29463-7", 154, "lb", "[lb_av]")),
        "conditions": _searchset({
            "resourceType": "Condition", "id": "warm-up-asthma", "subject": {"reference": f"Patient/{_PATIENT}"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "195967001"}], "text": "Asthma"}}),
    })
    draft = {"resourceType": "MedicationRequest", "id": "warm-up-draft", "status": "draft", "intent": "order",
             "subject": {"reference": f"Patient/{_PATIENT}"},
             "medicationCodeableConcept": {"text": "omalizumab"},
             "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 4, "periodUnit": "wk"}},
                                    "doseAndRate": [{"doseQuantity": {"value": 300, "unit": "mg",
                                                                      "system": "http://unitsofmeasure.org",
                                                                      "code": "mg"}}]}]}
    context = {"userId": "Practitioner/warm-up", "patientId": _PATIENT}
    return [
        {"hook": "patient-view", "hookInstance": "00000000-0000-4000-8000-000000000001",
         "context": context, "prefetch": prefetch},
        {"hook": "order-sign", "hookInstance": "00000000-0000-4000-8000-000000000002",
         "context": {**context, "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                                "entry": [{"resource": draft}]}},
         "prefetch": prefetch},
    ]


def warm_up(app) -> float:
    """Run the synthetic requests through the pipeline (no HTTP, no FHIR, no DB); seconds taken."""
    from .fhir_client import NoFhirAccess
    from .pipeline import evaluate

    started = time.perf_counter()
    settings = app.extensions["cds_settings"]
    try:
        with app.app_context():
            for request_json in synthetic_requests():
                evaluate(request_json, settings=settings, fhir_client=NoFhirAccess("warm-up"))
    except Exception as exc:  # noqa: BLE001 - a warm-up problem must not stop the worker
        log.warning("warm-up failed (%s): the first request will load the data files", type(exc).__name__)
    return time.perf_counter() - started
