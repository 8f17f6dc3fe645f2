"""validate_card's fast pass (`_surely_valid`) only ever accepts cards the general checks accept.

Every card shape the builder writes (each topic, patient-view and order hooks, create / update / delete
suggestions, links, override reasons) is mutated at every node (null, blank and whitespace texts, other
types, subclasses, NaN, raw HTML, a removed or an extra key, a repeated uuid): wherever the fast pass says
"valid", the general checks must pass too. And the builder's own cards must take the fast pass (else it
saves nothing).
"""
from __future__ import annotations

import copy

import pytest

from cards import build_cards, validation
from cards.validation import CardValidationError
from clinical_core.decisions import TOPICS, Citation

from .factories import cyclosporine_draft, decision, omalizumab_draft, rxnorm_all, rxnorm_verified


class Str(str):
    pass


class Dict(dict):
    pass


def _cards() -> list[dict]:
    out = []
    drafts = {"MedicationRequest/draft-oma": omalizumab_draft(), "MedicationRequest/draft-cyc": cyclosporine_draft()}
    for topic in TOPICS:
        for hook in ("patient-view", "order-sign"):
            for rx in (rxnorm_verified, rxnorm_all):
                out += build_cards([decision(topic)], hook=hook, patient_id="p1", drafts=drafts, rxnorm_lookup=rx)
    out += build_cards([decision("omalizumab-dose-mismatch")], hook="order-sign", patient_id="p1",
                       drafts={"MedicationRequest/draft-oma": omalizumab_draft(id=None)}, rxnorm_lookup=rxnorm_all)
    out += build_cards([decision("omalizumab-dose", order_reference="MedicationRequest/draft-oma"),
                        decision("cyclosporine-unsafe")], hook="order-select", patient_id="p1",
                       drafts={"MedicationRequest/draft-oma": omalizumab_draft(dosageInstruction=[])},
                       rxnorm_lookup=rxnorm_all)
    out += build_cards([decision("anti-il5-recommended", links=(Citation("GINA 2024", "https://ginasthma.org/x"),)),
                        decision("omalizumab-dose", citation=Citation("Guide", "https://example.org/guide"))],
                       hook="patient-view", patient_id="p1", rxnorm_lookup=rxnorm_all)
    return out


CARDS = _cards()
REPLACEMENTS = [None, "", " ", "\u00a0", "\n", "\u3000x", 0, 1, True, False, 1.5, float("nan"), float("inf"),
                [], {}, [None], {"a": None}, Str("x"), Dict(a="b"), "<b>x</b>", "x\ny", "a" * 200, (1,),
                "00000000-0000-4000-8000-000000000000", "not-a-uuid", "https://example.org/new",
                "MedicationRequest/x", "create", "delete", "update", "warning", "info", "at-most-one", "smart"]


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, path + (i,))


def _parent(card, path):
    node = card
    for step in path[:-1]:
        node = node[step]
    return node


def _mutants(card):
    for path in _paths(card):
        if not path:
            continue
        for new in REPLACEMENTS:
            mutant = copy.deepcopy(card)
            _parent(mutant, path)[path[-1]] = copy.deepcopy(new)
            yield mutant
        mutant = copy.deepcopy(card)
        parent = _parent(mutant, path)
        if isinstance(parent, dict):
            del parent[path[-1]]
            yield mutant
            mutant = copy.deepcopy(card)
            _parent(mutant, path)["extension"] = [{"url": "https://example.org/x"}]
            yield mutant
        else:
            parent.append(copy.deepcopy(parent[path[-1]]))  # a repeated element (e.g. a uuid twice)
            yield mutant
    for key in ("suggestions", "overrideReasons", "links", "selectionBehavior", "detail", "icon", "appContext"):
        mutant = copy.deepcopy(card)
        mutant[key] = copy.deepcopy(card.get("suggestions", [{}]))
        yield mutant
    yield Dict(card)
    yield [card]


def _general_passes(card) -> bool:
    try:
        validation._validate_card_general(card)
    except (CardValidationError, AttributeError, TypeError, KeyError):
        return False
    return True


@pytest.mark.parametrize("card", CARDS, ids=lambda c: c["source"]["topic"]["code"])
def test_the_builders_cards_take_the_fast_pass(card):
    assert validation._surely_valid(card)
    assert _general_passes(card)


def test_every_card_shape_is_covered():
    shapes = {(c["indicator"], tuple(a["type"] for s in c.get("suggestions", []) for a in s["actions"]),
               "links" in c) for c in CARDS}
    assert {a for _, actions, _ in shapes for a in actions} == {"create", "update", "delete"}
    assert any(links for _, _, links in shapes)


@pytest.mark.parametrize("card", CARDS, ids=lambda c: c["source"]["topic"]["code"])
def test_the_fast_pass_accepts_no_card_the_general_checks_refuse(card):
    accepted = 0
    for mutant in _mutants(card):
        if validation._surely_valid(mutant):
            accepted += 1
            assert _general_passes(mutant), mutant
        else:  # not proven: validate_card answers exactly as the general checks do
            try:
                validation.validate_card(mutant)
                fast = None
            except Exception as exc:  # noqa: BLE001
                fast = (type(exc), str(exc))
            try:
                validation._validate_card_general(mutant)
                general = None
            except Exception as exc:  # noqa: BLE001
                general = (type(exc), str(exc))
            assert fast == general
    assert accepted  # harmless mutations (another valid text) are still proven
