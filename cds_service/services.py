"""The CDS services this project offers, as discovery describes them.

Discovery lists one id per hook: `omalizumab-order-select` (order-select) and
`omalizumab-order-review` (order-sign).  Clients that read discovery key a service by its URL
(`{baseUrl}/cds-services/{id}`): the CDS Hooks Sandbox keeps one entry per URL, so when both order
hooks shared `omalizumab-order-review` the order-sign entry replaced the order-select one and Rx View
never called the service.  `omalizumab-order-review` still accepts order-select too (`also_accepts`),
so a client registered for both hooks at that URL keeps working.  Prefetch
templates come from `fhir_mappings.prefetch_templates()`, which builds them from the same code-set
files the mappings read, so discovery never asks for codes the mappings would not understand.
"""
from __future__ import annotations

from dataclasses import dataclass

PATIENT_VIEW_ID = "omalizumab-patient-view"
ORDER_REVIEW_ID = "omalizumab-order-review"  # order-sign (and order-select, for earlier registrations)
ORDER_SELECT_ID = "omalizumab-order-select"

HOOKS = ("patient-view", "order-select", "order-sign")


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    usage_requirements: str
    also_accepts: tuple[str, ...] = ()  # further hooks this URL answers, not listed in discovery


_USAGE = (
    "Needs read access to the patient's Patient, Observation (total IgE, eosinophils, WBC, urinary "
    "LTE4, weight, eGFR, blood pressure), Condition, MedicationRequest, MedicationStatement and "
    "AllergyIntolerance resources, through prefetch or fhirServer with fhirAuthorization. Calls must "
    "carry a CDS Hooks JWT from a trusted issuer. Cards are advisory: a clinician decides."
)

SERVICES: tuple[ServiceDefinition, ...] = (
    ServiceDefinition(
        id=PATIENT_VIEW_ID,
        hook="patient-view",
        title="Omalizumab phenotype and dosing",
        description=(
            "Reads the chart for the type-2 inflammatory phenotype (allergic, eosinophilic, AERD, "
            "chronic spontaneous urticaria) and says whether omalizumab fits, with the label dose "
            "from baseline total IgE and body weight, or which therapy fits instead; warns when "
            "cyclosporine would be unsafe for the kidneys or blood pressure."
        ),
        usage_requirements=_USAGE,
    ),
    ServiceDefinition(
        id=ORDER_SELECT_ID,
        hook="order-select",
        title="Omalizumab and cyclosporine order check",
        description=(
            "Checks a selected omalizumab, anti-IL-5/5R, leukotriene-modifier or cyclosporine order "
            "against the patient's phenotype, label dose table, renal function and blood pressure."
        ),
        usage_requirements=_USAGE,
    ),
    ServiceDefinition(
        id=ORDER_REVIEW_ID,
        hook="order-sign",
        title="Omalizumab and cyclosporine order check",
        description=(
            "Checks omalizumab, anti-IL-5/5R, leukotriene-modifier and cyclosporine orders before "
            "signing: dose and interval against the label table, phenotype fit, renal and blood "
            "pressure safety. Replaces the cards given at order-select."
        ),
        usage_requirements=_USAGE,
        also_accepts=("order-select",),
    ),
)


_SERVICE_IDS = frozenset(s.id for s in SERVICES)
_HOOKS_BY_SERVICE = {sid: tuple(dict.fromkeys(h for s in SERVICES if s.id == sid for h in (s.hook, *s.also_accepts)))
                     for sid in _SERVICE_IDS}


def service_ids() -> frozenset[str]:
    return _SERVICE_IDS


def hooks_for(service_id: str) -> tuple[str, ...]:
    return _HOOKS_BY_SERVICE.get(service_id, ())


def prefetch_templates() -> dict[str, str]:
    """Discovery prefetch templates (one source of truth: fhir_mappings' code-set files)."""
    import fhir_mappings

    return fhir_mappings.prefetch_templates()  # a fresh dict each call


def discovery_document() -> dict:
    templates = prefetch_templates()
    return {
        "services": [
            {
                "hook": s.hook,
                "title": s.title,
                "description": s.description,
                "id": s.id,
                "prefetch": dict(templates),
                "usageRequirements": s.usage_requirements,
            }
            for s in SERVICES
        ]
    }
