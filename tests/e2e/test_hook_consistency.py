"""Issue 15, class 2: the phenotype decided at patient-view holds at order-select and order-sign.

Every scenario of the brief (the twelve demo patients) and combinations of them (made by editing a demo
chart) go through patient-view, order-select with each demo draft, and order-sign with every draft. The
order hooks must show the same conclusion: every patient-view card is either shown unchanged (topic,
indicator, summary, facts table) or answered for a drafted order by a card of the same topic whose facts
table holds all of the patient-view card's facts; and every card of an order hook that is not about a
draft is a patient-view card. Only draft-specific cards may differ.
"""
from __future__ import annotations

import pytest

from tests.e2e.hooks import call, draft, hook_request, patient_id_of, patient_resources, topics
from tests.e2e.variants import drop, drop_text, set_quantity

DRAFTS = ("draft-omalizumab-150mg-q4w", "draft-omalizumab-300mg-q4w", "draft-cyclosporine-150mg-bid",
          "draft-mepolizumab-100mg-q4w")
SLUGS = ("allergic-asthma-adult", "eosinophilic-asthma", "csu-refractory", "csu-ckd-hypertension",
         "adolescent-asthma-csu", "aerd", "nasal-polyps", "food-allergy", "bullous-pemphigoid", "out-of-table-ige",
         "missing-weight", "on-treatment")
# a drafted-order card of this topic answers the patient-view card of that topic for that order
ANSWERS_FOR_DRAFT = {"omalizumab-dose": {"omalizumab-dose", "omalizumab-dose-mismatch"}}


def _aerd_without_sensitisation_tests() -> list[dict]:
    """The issue's example: asthma, nasal polyps, a respiratory reaction to aspirin, LTE4 well above 166, and no
    sensitisation test on record."""
    res = patient_resources("aerd")
    drop(res, loinc=("specific-ige",))
    return res


def _allergic_and_eosinophilic() -> list[dict]:
    res = patient_resources("allergic-asthma-adult")
    drop(res, loinc=("eosinophils-percent", "wbc"))
    set_quantity(res, ("eosinophils-absolute",), 450, "/uL")
    return res


def _sensitised_ige_below_table() -> list[dict]:
    res = patient_resources("allergic-asthma-adult")
    set_quantity(res, ("total-ige",), 29, "[IU]/mL")
    return res


def _csu_and_aerd() -> list[dict]:
    res = patient_resources("aerd") + [r for r in patient_resources("csu-refractory")
                                       if r["resourceType"] in ("Condition", "MedicationRequest")]
    pid = patient_id_of(res)
    for r in res:
        if "subject" in r:
            r["subject"] = {"reference": f"Patient/{pid}"}
    return res


def _eosinophilic_on_omalizumab() -> list[dict]:
    res = patient_resources("eosinophilic-asthma")
    oma = next(r for r in patient_resources("on-treatment") if r["resourceType"] == "MedicationRequest"
               and "omalizumab" in (r.get("medicationCodeableConcept") or {}).get("text", "").lower())
    oma["subject"] = {"reference": f"Patient/{patient_id_of(res)}"}
    return res + [oma]


def _non_type2_asthma() -> list[dict]:
    res = patient_resources("eosinophilic-asthma")
    drop(res, loinc=("eosinophils-percent", "wbc"))
    drop_text(res, "Condition", "eosinophilic")
    set_quantity(res, ("eosinophils-absolute",), 90, "/uL")
    return res


COMBINATIONS = {
    "aerd-sensitisation-not-tested": _aerd_without_sensitisation_tests,
    "allergic-and-eosinophilic": _allergic_and_eosinophilic,
    "sensitised-ige-below-table": _sensitised_ige_below_table,
    "csu-and-aerd": _csu_and_aerd,
    "eosinophilic-on-omalizumab": _eosinophilic_on_omalizumab,
    "asthma-without-type2": _non_type2_asthma,
}


def _rows(card: dict) -> set[str]:
    """The facts-table rows of a card's detail (value, unit, date and resource id per fact)."""
    return {line for line in card.get("detail", "").splitlines()
            if line.startswith("| ") and not line.startswith("| Fact |")}


def _about_a_draft(card: dict) -> bool:
    return "**Draft order:**" in card.get("detail", "")


def _key(card: dict) -> tuple:
    return card["source"]["topic"]["code"], card["indicator"], card["summary"]


def assert_same_conclusion(view: list[dict], order: list[dict], where: str) -> None:
    drafted = [c for c in order if _about_a_draft(c)]
    shared = [c for c in order if not _about_a_draft(c)]
    view_keys = {_key(c): c for c in view}
    for card in shared:  # nothing patient-level appears only in an order hook
        assert _key(card) in view_keys, f"{where}: {card['summary']!r} is not a patient-view conclusion"
        assert _rows(card) == _rows(view_keys[_key(card)]), f"{where}: facts differ for {card['summary']!r}"
    shared_keys = {_key(c) for c in shared}
    for card in view:
        if _key(card) in shared_keys:
            continue
        topic = card["source"]["topic"]["code"]
        answering = [d for d in drafted if d["source"]["topic"]["code"] in ANSWERS_FOR_DRAFT.get(topic, {topic})]
        assert answering, f"{where}: patient-view {topic} ({card['summary']!r}) is gone: order topics {topics(order)}"
        assert any(_rows(card) <= _rows(d) for d in answering), (
            f"{where}: the {topic} conclusion lost facts: {sorted(_rows(card) - set().union(*map(_rows, answering)))}")


def _charts():
    yield from ((slug, lambda slug=slug: patient_resources(slug)) for slug in SLUGS)
    yield from COMBINATIONS.items()


@pytest.mark.parametrize("name,chart", list(_charts()), ids=[n for n, _ in _charts()])
def test_phenotype_conclusion_is_the_same_in_every_hook(e2e_client, name, chart):
    resources = chart()
    pid = patient_id_of(resources)
    view = call(e2e_client, hook_request("patient-view", resources))
    assert view, f"{name}: empty patient-view"
    for one in DRAFTS:
        order = call(e2e_client, hook_request("order-select", resources, drafts=[draft(one, pid)]))
        assert_same_conclusion(view, order, f"{name} order-select {one}")
    for omalizumab in DRAFTS[:2]:  # every kind of draft at once (one omalizumab order at a time)
        every = [draft(d, pid) for d in (omalizumab,) + DRAFTS[2:]]
        for hook_name in ("order-sign", "order-select"):
            order = call(e2e_client, hook_request(hook_name, resources, drafts=every))
            assert_same_conclusion(view, order, f"{name} {hook_name} {omalizumab} + cyclosporine + mepolizumab")
        # order-select with only the mepolizumab draft selected: the others are on the order list, unselected
        order = call(e2e_client, hook_request("order-select", resources, drafts=every,
                                              selections=[f"MedicationRequest/{DRAFTS[3]}"]))
        assert_same_conclusion(view, order, f"{name} order-select, mepolizumab selected")


def test_aerd_without_sensitisation_tests_keeps_the_aerd_answer_on_an_omalizumab_draft(e2e_client):
    """The issue's example, word for word: the AERD evidence, the 'not the first choice' warning and the
    leukotriene-modifier alternative stay when omalizumab is selected; the warning asks for the test."""
    resources = _aerd_without_sensitisation_tests()
    pid = patient_id_of(resources)
    view = call(e2e_client, hook_request("patient-view", resources))
    assert "leukotriene-modifier-recommended" in topics(view)
    for hook in ("order-select", "order-sign"):
        cards = call(e2e_client, hook_request(hook, resources, drafts=[draft("draft-omalizumab-300mg-q4w", pid)]))
        t = topics(cards)
        assert "leukotriene-modifier-recommended" in t and "omalizumab-not-preferred" in t, (hook, t)
        warning = next(c for c in cards if c["source"]["topic"]["code"] == "omalizumab-not-preferred")
        assert warning["indicator"] == "warning" and "AERD" in warning["summary"]
        assert "sensitisation" in warning["detail"].lower() and "specific IgE" in warning["detail"]
        labels = [s["label"] for s in warning.get("suggestions", [])]
        assert any("montelukast" in label.lower() for label in labels), labels
        ltm = next(c for c in cards if c["source"]["topic"]["code"] == "leukotriene-modifier-recommended")
        assert _rows(ltm) == _rows(next(c for c in view if c["source"]["topic"]["code"] ==
                                        "leukotriene-modifier-recommended"))
        # the montelukast order is offered once: on the replacement, not again on the leukotriene card
        assert not ltm.get("suggestions")


def test_the_consistency_check_catches_a_lost_conclusion():
    """The checker itself: an order answer without the patient-view conclusion, or with fewer facts, fails."""
    view = [{"source": {"topic": {"code": "leukotriene-modifier-recommended"}}, "indicator": "info",
             "summary": "AERD: montelukast", "detail": "| Fact | Value |\n|---|---|\n| Urinary LTE4 | 310 |\n"}]
    with pytest.raises(AssertionError, match="is gone"):
        assert_same_conclusion(view, [], "probe")
    fewer = [dict(view[0], detail="| Fact | Value |\n|---|---|\n| Age | 47 |\n")]
    with pytest.raises(AssertionError, match="facts differ"):
        assert_same_conclusion(view, fewer, "probe")
    assert_same_conclusion(view, [dict(view[0])], "probe")  # the same card passes
