"""FHIR R4 -> clinical facts: the seam between the CDS Hooks service and the clinical core.

Public API (see docs/architecture.md):

- ``prefetch_templates()``: discovery prefetch, generated from the code-set data files.
- ``REQUIRED_PREFETCH_KEYS``: keys without which the service answers 412 when it cannot fetch them.
- ``extract_facts(...)``: prefetch/fetched FHIR data -> ``clinical_core.facts.PatientFacts``.
- ``extract_draft_orders(...)``: a hook's draftOrders -> ``DraftOrder`` tuple.
- ``rxnorm_for(agent)``: (RXCUI, display) for a verified ingredient, else None.

Heavy modules (fhir.resources models, the UCUM registry) are imported on first use, not at import.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from .codesets import prefetch_templates, rxnorm_for

REQUIRED_PREFETCH_KEYS: tuple[str, ...] = ("patient",)

__all__ = [
    "REQUIRED_PREFETCH_KEYS",
    "extract_draft_orders",
    "extract_facts",
    "prefetch_templates",
    "rxnorm_for",
]


def extract_facts(data: Mapping[str, Any], *, patient_id: str, evaluation_date: date,
                  unavailable: Iterable[str] = (),
                  resolve_reference: Callable[[str], dict | None] | None = None):
    """Turn FHIR data (prefetch key -> resource | Bundle | None) into PatientFacts; never raises on data."""
    from .extract import extract_facts as _extract

    return _extract(data, patient_id=patient_id, evaluation_date=evaluation_date,
                    unavailable=unavailable, resolve_reference=resolve_reference)


def extract_draft_orders(draft_orders: Mapping | None, selections: Sequence[str] | None, *, hook: str,
                         resolve_reference: Callable[[str], dict | None] | None = None):
    """Read a draftOrders Bundle into DraftOrder facts; never raises on data."""
    from .drafts import extract_draft_orders as _drafts

    return _drafts(draft_orders, selections, hook=hook, resolve_reference=resolve_reference)
