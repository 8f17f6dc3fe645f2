"""Cards: the clinical core's decisions as CDS Hooks 2.0 cards (../shared/docs/card-contract.md).

Public API:
    build_cards(decisions, *, hook, patient_id, drafts=None) -> list[dict]
    validate_card(card) -> None, raising CardValidationError

Code systems defined by this project (documented in the README):
    CARD_TOPIC_SYSTEM      = "http://omalizumab-cds.org/CodeSystem/card-topic"
        source.topic.code is one of clinical_core.decisions.TOPICS.
    OVERRIDE_REASON_SYSTEM = "http://omalizumab-cds.org/CodeSystem/override-reason"
        codes: clinical-judgement, patient-declined, data-out-of-date, already-discussed,
        not-applicable (displays in cards.vocabulary.OVERRIDE_REASONS); offered on every warning and
        critical card.

Suggestions are FHIR R4 MedicationRequests (RxNorm ingredient code from fhir_mappings.rxnorm_for, SNOMED CT
route, UCUM dose, timing.repeat); a drug without a verified code gets no coded suggestion, and the card
says what to order instead.
"""
from .builder import build_cards
from .validation import CardValidationError, validate_card
from .vocabulary import CARD_TOPIC_SYSTEM, OVERRIDE_REASON_SYSTEM, OVERRIDE_REASONS

__all__ = ["build_cards", "validate_card", "CardValidationError", "CARD_TOPIC_SYSTEM",
           "OVERRIDE_REASON_SYSTEM", "OVERRIDE_REASONS"]
