"""Decisions -> CDS Hooks cards: one card per decision, most severe first, no duplicates.

The clinical core decides; this module only presents. Each card gets a fresh uuid4 (feedback refers to
it), a summary under 140 characters, a markdown detail with the facts behind the decision, a source whose
`topic` is the decision's topic in the project's card-topic code system, override reasons on warning and
critical cards, and the suggestions of `cards.suggestions`. Every card passes `validate_card` before it
leaves: a card that would break the spec raises `CardValidationError` instead of reaching an EHR.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence

from clinical_core.decisions import INDICATOR_RANK, Citation, Decision

from .suggestions import RxNormLookup, new_uuid, suggestions_for
from .text import detail_for, summary_for
from .validation import CardValidationError, CheckedResources, checked_override_reasons, validate_card
from .vocabulary import CARD_TOPIC_SYSTEM, SOURCE_PRODUCT, TOPIC_DISPLAYS

log = logging.getLogger(__name__)

HOOKS = ("patient-view", "order-select", "order-sign")
# At most one card per (topic, drug order) for these topics: two omalizumab dose cards would contradict
# each other (asthma + CSU is one omalizumab card that covers both).
ONE_CARD_TOPICS = frozenset({
    "omalizumab-dose", "omalizumab-dose-mismatch", "omalizumab-not-dosable", "omalizumab-not-preferred",
    "cyclosporine-unsafe", "anti-il5-recommended", "leukotriene-modifier-recommended",
    "food-allergy-omalizumab", "pemphigoid-itch-off-label",
})


def build_cards(decisions: Sequence[Decision], *, hook: str, patient_id: str,
                drafts: Mapping[str, dict] | None = None,
                rxnorm_lookup: RxNormLookup | None = None) -> list[dict]:
    """Spec-valid card dicts, most severe first (critical, warning, info; input order within a level).

    drafts: raw draft MedicationRequest JSON by "MedicationRequest/<id>" (order hooks), for `update`
    and `delete` suggestions. rxnorm_lookup defaults to `fhir_mappings.rxnorm_for`.
    Raises CardValidationError when a card would break CDS Hooks 2.0 or the card contract.
    """
    if hook not in HOOKS:
        raise ValueError(f"unknown hook {hook!r}")
    if not patient_id:
        raise ValueError("patient_id is required")
    rxnorm = rxnorm_lookup if rxnorm_lookup is not None else _default_rxnorm()
    drafts = drafts or {}
    ordered = _dedupe(decisions)  # most severe first
    # the suggestion resources that passed validate_fhir_resource while being built, and the override
    # reasons copied from their table: nothing below changes them before validate_card, which would
    # otherwise check each a second time
    checked = CheckedResources()
    planned = [(d, *suggestions_for(d, hook=hook, patient_id=patient_id, drafts=drafts, rxnorm=rxnorm,
                                    checked=checked))
               for d in ordered]
    planned = _one_order_button_per_regimen(planned)
    cards = [_card(d, suggestions, notes, checked) for d, suggestions, notes in planned]
    for card in cards:
        try:
            validate_card(card, checked)
        except CardValidationError:
            log.error("refused card topic=%s patient=%s", card.get("source", {}).get("topic", {}).get("code"),
                      patient_id)
            raise
    return cards


def _default_rxnorm() -> RxNormLookup:
    """fhir_mappings.rxnorm_for (the code-set owner; None for unverified codes), read from the module on
    every call; the module is imported on first use only (an import statement per request costs ~5,000
    instructions)."""
    global _FHIR_MAPPINGS
    if _FHIR_MAPPINGS is None:
        import fhir_mappings
        _FHIR_MAPPINGS = fhir_mappings
    return _FHIR_MAPPINGS.rxnorm_for


_FHIR_MAPPINGS = None


def _regimen_key(suggestion: dict) -> tuple | None:
    """What a create-only suggestion would order (code, dose, timing), to spot the same order twice."""
    if any(a["type"] != "create" for a in suggestion["actions"]) or len(suggestion["actions"]) != 1:
        return None
    resource = suggestion["actions"][0]["resource"]
    dosage = resource["dosageInstruction"][0]
    quantity = dosage["doseAndRate"][0]["doseQuantity"]
    repeat = dosage["timing"]["repeat"]
    codes = tuple(c.get("code") for c in resource["medicationCodeableConcept"]["coding"])
    return (codes, quantity["value"], quantity["code"], repeat["frequency"], repeat["period"], repeat["periodUnit"])


def _one_order_button_per_regimen(planned: list[tuple]) -> list[tuple]:
    """Two cards must not both offer the same new order (accepting both would order it twice).

    The omalizumab dose card keeps its button; another card that proposed the same regimen (e.g. the
    cyclosporine warning pointing to omalizumab 300 mg every 4 weeks) refers to it instead.
    One card with at most one suggestion (the usual answer) has nothing to compare: returned as it is.
    """
    if len(planned) == 1 and len(planned[0][1]) <= 1:
        return planned
    keys = [[_regimen_key(suggestion) for suggestion in suggestions] for _, suggestions, _ in planned]
    owner: dict[tuple, int] = {}
    for index in sorted(range(len(planned)), key=lambda i: planned[i][0].topic != "omalizumab-dose"):
        for key in keys[index]:
            if key is not None:
                owner.setdefault(key, index)
    out = []
    for index, (decision, suggestions, notes) in enumerate(planned):
        kept, seen = [], set()
        for suggestion, key in zip(suggestions, keys[index]):
            if key is not None and key in seen:
                continue  # the same regimen listed twice on one card
            seen.add(key)
            if key is not None and owner[key] != index:
                other = planned[owner[key]][0]
                notes = list(notes) + [f"{suggestion['label']}: offered on the card "
                                       f"\"{summary_for(other)}\"."]
                continue
            kept.append(suggestion)
        out.append((decision, kept, notes))
    return out


def _card(decision: Decision, suggestions: list[dict], notes: list[str],
          checked: CheckedResources | None = None) -> dict:
    card: dict = {
        "uuid": new_uuid(),
        "summary": summary_for(decision),
        "indicator": decision.indicator,
        "detail": detail_for(decision, notes),
        "source": _source(decision),
    }
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "at-most-one"
    if decision.indicator in ("warning", "critical"):
        card["overrideReasons"] = checked_override_reasons(checked)
    links = _links(decision)
    if links:
        card["links"] = links
    return card


def _source(decision: Decision) -> dict:
    source = {"label": f"{SOURCE_PRODUCT}: {decision.citation.label}"}
    if decision.citation.url:
        source["url"] = decision.citation.url
    topic = {"system": CARD_TOPIC_SYSTEM, "code": decision.topic}
    if decision.topic in TOPIC_DISPLAYS:
        topic["display"] = TOPIC_DISPLAYS[decision.topic]
    source["topic"] = topic
    return source


def _links(decision: Decision) -> list[dict]:
    """Absolute links to the label or guideline sections behind the decision, without repeats."""
    candidates: list[Citation] = list(decision.links)
    if decision.dose is not None:
        candidates.append(decision.dose.citation)
    seen = {decision.citation.url}
    links = []
    for citation in candidates:
        if not citation.url or citation.url in seen:
            continue
        seen.add(citation.url)
        links.append({"label": citation.label, "url": citation.url, "type": "absolute"})
    return links


def _dedupe(decisions: Sequence[Decision]) -> list[Decision]:
    """Drop repeated decisions; merge two decisions of a one-card topic about the same order.
    Returned most severe first (input order within a level).

    The first one (after ordering by severity) wins the headline, dose and suggestions; the others'
    evidence, missing items and cautions are kept, and a differing headline is named in the cautions.
    """
    if type(decisions) in (list, tuple) and len(decisions) == 1:
        return [decisions[0]]  # one decision: nothing to order or merge
    ranked = sorted(decisions, key=lambda d: INDICATOR_RANK.get(d.indicator, len(INDICATOR_RANK)))
    kept: dict[tuple, Decision] = {}
    order: list[tuple] = []
    for decision in ranked:
        if decision.topic in ONE_CARD_TOPICS:
            key: tuple = (decision.topic, decision.order_reference)
        else:
            key = (decision.topic, decision.order_reference, decision.headline)
        first = kept.get(key)
        if first is None:
            kept[key] = decision
            order.append(key)
        elif first != decision:
            kept[key] = _merge(first, decision)
    return [kept[k] for k in order]


def _merge(first: Decision, other: Decision) -> Decision:
    def union(a: tuple, b: tuple) -> tuple:
        return a + tuple(x for x in b if x not in a)

    cautions = union(first.cautions, other.cautions)
    if other.headline != first.headline:
        cautions = cautions + (f"Also assessed: {other.headline}",)
    log.warning("merged duplicate decisions for topic %s", first.topic)
    return dataclasses.replace(
        first,
        evidence=union(first.evidence, other.evidence),
        missing=union(first.missing, other.missing),
        cautions=cautions,
        covers=union(first.covers, other.covers),
        alternatives=union(first.alternatives, other.alternatives),
        links=union(first.links, other.links),
    )
