"""validate_card refuses every kind of card an EHR (or Inferno's cards_validation) would reject."""
from __future__ import annotations

import copy
import uuid

import pytest

from cards import CARD_TOPIC_SYSTEM, OVERRIDE_REASON_SYSTEM, CardValidationError, validate_card
from cards.validation import validate_fhir_resource


def good_card() -> dict:
    return {
        "uuid": str(uuid.uuid4()),
        "summary": "Omalizumab 300 mg SC every 4 weeks",
        "indicator": "warning",
        "detail": "**Decision**\n\n| Fact | Value | Date | Source |\n|---|---|---|---|\n| IgE | 150 | 2026-01-01 | Observation/1 |",
        "source": {"label": "Omalizumab CDS: Xolair US PI", "url": "https://example.org/label",
                   "topic": {"system": CARD_TOPIC_SYSTEM, "code": "omalizumab-dose-mismatch"}},
        "suggestions": [{
            "label": "Change draft to 300 mg every 4 weeks", "uuid": str(uuid.uuid4()), "isRecommended": True,
            "actions": [{
                "type": "update", "description": "Correct the dose",
                "resource": {
                    "resourceType": "MedicationRequest", "id": "d1", "status": "draft", "intent": "order",
                    "subject": {"reference": "Patient/p1"},
                    "medicationCodeableConcept": {"text": "Omalizumab"},
                    "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 4,
                                                                 "periodUnit": "wk"}}}],
                },
            }, {"type": "delete", "description": "Remove the old draft", "resourceId": "MedicationRequest/d2"}],
        }],
        "selectionBehavior": "at-most-one",
        "overrideReasons": [{"system": OVERRIDE_REASON_SYSTEM, "code": "patient-declined",
                             "display": "Patient declined"}],
        "links": [{"label": "Label", "url": "https://example.org/label#2.1", "type": "absolute"}],
    }


def test_good_card_passes():
    validate_card(good_card())


def _set(path: str, value):
    def mutate(card):
        *parents, last = path.split(".")
        node = card
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value
    return mutate


_DELETE = object()
SUG = "suggestions.0"
ACT = "suggestions.0.actions.0"

BAD = {
    "summary 140 chars": (_set("summary", "x" * 140), "card.summary"),
    "summary two lines": (_set("summary", "a\nb"), "card.summary"),
    "summary missing": (_set("summary", _DELETE), "card.summary"),
    "unknown indicator": (_set("indicator", "hard-stop"), "card.indicator"),
    "null field": (_set("detail", None), "card.detail"),
    "empty string": (_set("source.label", "  "), "card.source.label"),
    "empty array": (_set("links", []), "card.links"),
    "empty object": (_set("source.topic", {}), "card.source.topic"),
    "nested null in resource": (_set(f"{ACT}.resource.intent", None), f"card.{ACT.replace('.0', '[0]')}"),
    "unknown card field": (_set("severity", "high"), "card"),
    "uuid missing": (_set("uuid", _DELETE), "card.uuid"),
    "uuid not a uuid": (_set("uuid", "card-1"), "card.uuid"),
    "raw html in detail": (_set("detail", "Dose <b>300 mg</b>"), "card.detail"),
    "source missing": (_set("source", _DELETE), "card.source"),
    "source label missing": (_set("source.label", _DELETE), "card.source.label"),
    "source url relative": (_set("source.url", "/label.pdf"), "card.source.url"),
    "topic missing": (_set("source.topic", _DELETE), "card.source.topic"),
    "topic unknown": (_set("source.topic.code", "omalizumab-maybe"), "card.source.topic.code"),
    "topic wrong system": (_set("source.topic.system", "http://example.org/topics"), "card.source.topic.system"),
    "suggestions without selectionBehavior": (_set("selectionBehavior", _DELETE), "card.selectionBehavior"),
    "selectionBehavior without suggestions": (_set("suggestions", _DELETE), "card.selectionBehavior"),
    "selectionBehavior unknown": (_set("selectionBehavior", "exactly-one"), "card.selectionBehavior"),
    "suggestion without label": (_set(f"{SUG}.label", _DELETE), "card.suggestions[0].label"),
    "suggestion without uuid": (_set(f"{SUG}.uuid", _DELETE), "card.suggestions[0].uuid"),
    "suggestion without actions": (_set(f"{SUG}.actions", _DELETE), "card.suggestions[0].actions"),
    "isRecommended not bool": (_set(f"{SUG}.isRecommended", "yes"), "card.suggestions[0].isRecommended"),
    "action without description": (_set(f"{ACT}.description", _DELETE), "card.suggestions[0].actions[0].description"),
    "action unknown type": (_set(f"{ACT}.type", "replace"), "card.suggestions[0].actions[0].type"),
    "update without id": (_set(f"{ACT}.resource.id", _DELETE), "card.suggestions[0].actions[0].resource.id"),
    "update without resource": (_set(f"{ACT}.resource", _DELETE), "card.suggestions[0].actions[0].resource"),
    "resource bad intent": (_set(f"{ACT}.resource.intent", "suggestion"), "card.suggestions[0].actions[0].resource.intent"),
    "resource bad status": (_set(f"{ACT}.resource.status", "pending"), "card.suggestions[0].actions[0].resource"),
    "resource bad periodUnit": (_set(f"{ACT}.resource.dosageInstruction.0.timing.repeat.periodUnit", "week"),
                                "card.suggestions[0].actions[0].resource"),
    "resource not FHIR": (_set(f"{ACT}.resource.dosageInstruction", "300 mg"), "card.suggestions[0].actions[0].resource"),
    "resource without subject": (_set(f"{ACT}.resource.subject", _DELETE), "card.suggestions[0].actions[0].resource"),
    "delete without resourceId": (_set("suggestions.0.actions.1.resourceId", _DELETE),
                                  "card.suggestions[0].actions[1].resourceId"),
    "delete with bare id": (_set("suggestions.0.actions.1.resourceId", "d2"), "card.suggestions[0].actions[1].resourceId"),
    "override reason without display": (_set("overrideReasons.0.display", _DELETE), "card.overrideReasons[0].display"),
    "override reason without system": (_set("overrideReasons.0.system", _DELETE), "card.overrideReasons[0].system"),
    "override reason foreign system": (_set("overrideReasons.0.system", "http://example.org/r"),
                                       "card.overrideReasons[0].system"),
    "warning without overrideReasons": (_set("overrideReasons", _DELETE), "card.overrideReasons"),
    "link appContext on absolute": (_set("links.0.appContext", "x=1"), "card.links[0].appContext"),
    "link without type": (_set("links.0.type", _DELETE), "card.links[0].type"),
    "link unknown type": (_set("links.0.type", "relative"), "card.links[0].type"),
    "link relative url": (_set("links.0.url", "label.pdf"), "card.links[0].url"),
    "link autolaunchable string": (_set("links.0.autolaunchable", "true"), "card.links[0].autolaunchable"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_validator_rejects(name):
    mutate, path = BAD[name]
    card = good_card()
    mutate(card)
    with pytest.raises(CardValidationError) as info:
        validate_card(card)
    assert info.value.path.startswith(path), (info.value.path, info.value.problem)


def test_two_recommended_with_at_most_one_rejected():
    card = good_card()
    second = copy.deepcopy(card["suggestions"][0])
    second["uuid"] = str(uuid.uuid4())
    card["suggestions"].append(second)
    with pytest.raises(CardValidationError, match="cds-resp-1"):
        validate_card(card)
    card["selectionBehavior"] = "any"
    validate_card(card)  # `any` allows several recommended suggestions


def test_duplicate_suggestion_uuid_rejected():
    card = good_card()
    second = copy.deepcopy(card["suggestions"][0])
    second.pop("isRecommended")
    card["suggestions"].append(second)
    with pytest.raises(CardValidationError, match="duplicate suggestion uuid"):
        validate_card(card)


def test_summary_of_139_characters_is_accepted():
    card = good_card()
    card["summary"] = "x" * 139
    validate_card(card)


def test_info_card_needs_no_override_reasons():
    card = good_card()
    card["indicator"] = "info"
    del card["overrideReasons"]
    validate_card(card)


def test_escaped_angle_bracket_is_not_html():
    card = good_card()
    card["detail"] = r"IgE \>100\-200 IU/mL and \<30 excluded"
    validate_card(card)


def test_non_dict_card_rejected():
    with pytest.raises(CardValidationError):
        validate_card(["not", "a", "card"])  # type: ignore[arg-type]


def test_fhir_validation_only_for_known_resource_types():
    with pytest.raises(CardValidationError, match="no suggestion resources"):
        validate_fhir_resource({"resourceType": "ServiceRequest", "status": "draft"})
