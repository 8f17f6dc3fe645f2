"""build_cards: one valid card per decision, with the facts, rule, source and suggestion resources."""
from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest

from cards import (CARD_TOPIC_SYSTEM, OVERRIDE_REASON_SYSTEM, CardValidationError, build_cards,
                   validate_card)
from clinical_core.decisions import TOPICS, Evidence
from tests.cards.factories import (MEPOLIZUMAB, OMALIZUMAB_CSU, cyclosporine_draft, decision,
                                   omalizumab_draft, rxnorm_all, rxnorm_verified, table_dose)

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SCT = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"


def build(decisions, hook="patient-view", drafts=None, rxnorm=rxnorm_verified):
    return build_cards(decisions, hook=hook, patient_id="p1", drafts=drafts, rxnorm_lookup=rxnorm)


def only_card(decisions, **kw) -> dict:
    cards = build(decisions, **kw)
    assert len(cards) == 1
    return cards[0]


def resources_of(card: dict, action_type: str) -> list[dict]:
    found = [a["resource"] for s in card.get("suggestions", []) for a in s["actions"]
             if a["type"] == action_type]
    for resource in found:
        MedicationRequest.model_validate(resource)  # a FHIR R4 validator accepts it
    return found


def dosage(resource: dict) -> tuple:
    d = resource["dosageInstruction"][0]
    q = d["doseAndRate"][0]["doseQuantity"]
    rep = d["timing"]["repeat"]
    route = d["route"]["coding"][0]
    return (q["value"], q["unit"], q["system"], q["code"], rep["frequency"], rep["period"], rep["periodUnit"],
            route["system"], route["code"])


# --- every topic --------------------------------------------------------------------------------------

@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_gives_one_valid_card(topic):
    hook = "order-sign" if topic in ("omalizumab-dose-mismatch",) else "patient-view"
    drafts = {"MedicationRequest/draft-oma": omalizumab_draft()}
    card = only_card([decision(topic)], hook=hook, drafts=drafts)
    validate_card(card)
    d = decision(topic)
    assert card["indicator"] == d.indicator
    assert card["source"]["topic"] == {"system": CARD_TOPIC_SYSTEM, "code": topic,
                                       "display": card["source"]["topic"]["display"]}
    assert card["source"]["url"] == d.citation.url
    assert d.citation.label in card["source"]["label"]
    assert len(card["summary"]) < 140
    assert uuid.UUID(card["uuid"]).version == 4
    if d.indicator in ("warning", "critical"):
        codes = {r["code"] for r in card["overrideReasons"]}
        assert {"clinical-judgement", "patient-declined", "data-out-of-date", "already-discussed",
                "not-applicable"} <= codes
        assert all(r["system"] == OVERRIDE_REASON_SYSTEM and r["display"] for r in card["overrideReasons"])
    else:
        assert "overrideReasons" not in card
    if "suggestions" in card:
        assert card["selectionBehavior"] == "at-most-one"
        assert sum(1 for s in card["suggestions"] if s.get("isRecommended")) <= 1
        for s in card["suggestions"]:
            assert uuid.UUID(s["uuid"]).version == 4
            assert all(a["description"] for a in s["actions"])
    else:
        assert "selectionBehavior" not in card


# --- patient-view omalizumab dose -----------------------------------------------------------------------

def test_dose_card_summary_detail_and_create_suggestion():
    card = only_card([decision("omalizumab-dose")])
    assert card["indicator"] == "info"
    assert "Omalizumab 300 mg" in card["summary"] and "every 4 weeks" in card["summary"]
    detail = card["detail"]
    assert detail.startswith("**Omalizumab 300 mg SC every 4 weeks")
    assert "| Fact | Value | Date | Source |" in detail
    assert "| Baseline total IgE | 150 IU/mL (reported as 360 ng/mL) | 2026-01-05 | Observation/ige-1 |" in detail
    assert "| Body weight | 65 kg | 2026-10-01 | Observation/wt-1 |" in detail
    assert r"IgE band \>100-200 IU/mL" in detail and r"weight band \>60-70 kg" in detail
    assert "US PI Table 1" in detail
    assert "Source: [Xolair US Prescribing Information, Table 1](https://" in detail

    [suggestion] = card["suggestions"]
    assert suggestion["isRecommended"] is True
    assert "300 mg" in suggestion["label"] and "4 weeks" in suggestion["label"]
    [action] = suggestion["actions"]
    assert action["type"] == "create"
    [resource] = resources_of(card, "create")
    assert resource["status"] == "draft" and resource["intent"] == "proposal"
    assert resource["subject"] == {"reference": "Patient/p1"}
    assert resource["medicationCodeableConcept"]["coding"] == [
        {"system": RXNORM, "code": "302379", "display": "omalizumab"}]
    assert resource["medicationCodeableConcept"]["text"]
    assert dosage(resource) == (300, "mg", UCUM, "mg", 1, 4, "wk", SCT, "34206005")


def test_dose_card_without_suggest_order_offers_no_new_order_and_says_why():
    """Already on omalizumab at the table dose: a 'create' would be a second active order of the same drug."""
    card = only_card([decision("omalizumab-dose", suggest_order=False)])
    assert "suggestions" not in card
    assert "no new order" in card["detail"].lower()


def test_q2w_dose_gives_period_2():
    d = decision("omalizumab-dose", headline="Omalizumab 225 mg SC every 2 weeks (US Table 1)",
                 dose=decision("omalizumab-dose").dose.__class__(
                     225, 2, "us-asthma-12plus", "US PI Table 1", "US", decision("omalizumab-dose").citation,
                     ">300-400 IU/mL", "30-60 kg"))
    [resource] = resources_of(only_card([d]), "create")
    assert dosage(resource)[:7] == (225, "mg", UCUM, "mg", 1, 2, "wk")


def test_summary_names_the_dose_when_the_headline_does_not():
    card = only_card([decision("omalizumab-dose", headline="Omalizumab fits: allergic asthma")])
    assert card["summary"] == "Omalizumab 300 mg SC every 4 weeks: Omalizumab fits: allergic asthma"


def test_long_headline_is_shortened_deterministically():
    long = ("Omalizumab 300 mg SC every 4 weeks from the US label table for allergic asthma in adolescents "
            "and adults, IgE band >100-200 IU/mL, weight band >60-70 kg, also covering urticaria")
    assert len(long) >= 140
    first = only_card([decision("omalizumab-dose", headline=long)])["summary"]
    second = only_card([decision("omalizumab-dose", headline=long)])["summary"]
    assert first == second
    assert len(first) <= 139 and first.endswith("…")
    assert first.startswith("Omalizumab 300 mg SC every 4 weeks from the US label table")
    assert " ".join(first[:-1].split()) == first[:-1]  # cut at a word boundary, no dangling space
    assert long.startswith(first[:-1])


def test_unverified_omalizumab_code_gives_no_suggestion_and_says_so():
    card = only_card([decision("omalizumab-dose")], rxnorm=lambda agent: None)
    assert "suggestions" not in card and "selectionBehavior" not in card
    assert "**Ordering:**" in card["detail"]
    assert "no order is suggested (no verified RxNorm code)" in card["detail"]


# --- detail markdown safety ------------------------------------------------------------------------------

def test_pipes_and_html_in_data_are_escaped():
    ev = Evidence("Note | with pipe", "<b>250</b> IU/mL", date(2026, 1, 1), "Observation/a|b")
    card = only_card([decision("omalizumab-dose", evidence=(ev,))])
    row = [line for line in card["detail"].splitlines() if line.startswith("| Note")][0]
    assert row == r"| Note \| with pipe | \<b\>250\</b\> IU/mL | 2026-01-01 | Observation/a\|b |"
    assert re.search(r"(?<!\\)<", card["detail"]) is None


def test_missing_stale_and_undated_facts_are_named():
    ev = Evidence("Body weight", "65 kg", None, None)
    card = only_card([decision("omalizumab-dose", evidence=(ev,),
                               cautions=("Weight is 5 months old: confirm weight before dosing",),
                               missing=("Perennial aeroallergen test",))])
    assert "| Body weight | 65 kg | not dated | not recorded |" in card["detail"]
    assert "**Check before acting:**\n\n- Weight is 5 months old: confirm weight before dosing" in card["detail"]
    assert "**Missing or to record:**\n\n- Perennial aeroallergen test" in card["detail"]


def test_data_needed_names_what_to_measure_without_a_facts_table():
    card = only_card([decision("data-needed")])
    assert "- Total IgE (IU/mL)" in card["detail"]
    assert "| Fact |" not in card["detail"]
    assert "suggestions" not in card


# --- ordering and duplicates -------------------------------------------------------------------------------

def test_most_severe_first_and_stable_within_a_level():
    ds = [decision("data-needed"), decision("omalizumab-not-dosable"), decision("cyclosporine-unsafe"),
          decision("anti-il5-recommended"), decision("data-unavailable")]
    cards = build(ds, hook="order-sign", drafts={"MedicationRequest/draft-cyc": cyclosporine_draft()})
    assert [c["source"]["topic"]["code"] for c in cards] == [
        "cyclosporine-unsafe", "omalizumab-not-dosable", "data-unavailable", "data-needed",
        "anti-il5-recommended"]
    ids = [c["uuid"] for c in cards] + [s["uuid"] for c in cards for s in c.get("suggestions", [])]
    assert len(ids) == len(set(ids))


def test_identical_decisions_give_one_card():
    assert len(build([decision("omalizumab-dose"), decision("omalizumab-dose")])) == 1


def test_asthma_and_csu_omalizumab_decisions_become_one_card():
    asthma = decision("omalizumab-dose", covers=("allergic-asthma",))
    csu = decision("omalizumab-dose", headline="Omalizumab 300 mg SC every 4 weeks for CSU (fixed label dose)",
                   covers=("csu-refractory",), evidence=())
    [card] = build([asthma, csu])
    assert card["summary"].startswith("Omalizumab 300 mg SC every 4 weeks (US Table 1")
    assert "**Treats:** allergic asthma, chronic spontaneous urticaria" in card["detail"]
    assert "Also assessed: Omalizumab 300 mg SC every 4 weeks for CSU" in card["detail"]
    assert len(card["suggestions"]) == 1


def test_distinct_data_needed_decisions_stay_separate():
    cards = build([decision("data-needed"),
                   decision("data-needed", headline="Record eGFR and blood pressure before cyclosporine")])
    assert len(cards) == 2


# --- order hooks ---------------------------------------------------------------------------------------------

def test_dose_mismatch_updates_the_entire_draft():
    draft = omalizumab_draft()
    card = only_card([decision("omalizumab-dose-mismatch")], hook="order-select",
                     drafts={"MedicationRequest/draft-oma": draft})
    assert card["indicator"] == "warning"
    assert "300 mg" in card["summary"]
    [suggestion] = card["suggestions"]
    assert suggestion["isRecommended"] is True
    [action] = suggestion["actions"]
    assert action["type"] == "update"
    [resource] = resources_of(card, "update")
    # kept: id, intent, status, subject, encounter, requester, medication, notes, bounds
    for key in ("id", "intent", "status", "subject", "encounter", "requester", "medicationReference", "note"):
        assert resource[key] == draft[key]
    assert dosage(resource) == (300, "mg", UCUM, "mg", 1, 4, "wk", SCT, "34206005")
    assert resource["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"] == {"start": "2026-12-01"}
    assert "code" not in resource["dosageInstruction"][0]["timing"]  # stale "Q4W" text removed
    assert "150" not in resource["dosageInstruction"][0]["text"]
    assert draft["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 150  # input untouched


def test_dose_correction_names_a_drafted_product_strength_that_cannot_give_the_new_dose():
    """An update changes the dosage only: a draft for the 300 mg/2 mL syringe corrected to 225 mg keeps a
    product that cannot deliver 225 mg (75 + 150 mg syringes are needed). The card must say so."""
    from tests.cards.factories import table_dose
    draft = omalizumab_draft(medicationCodeableConcept={
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "302379",
                    "display": "omalizumab"}], "text": "omalizumab 300 mg/2 mL prefilled syringe (Xolair)"})
    del draft["medicationReference"]
    d = decision("omalizumab-dose-mismatch", dose=table_dose(225, 2, ">100-200 IU/mL", ">90-150 kg"),
                 headline="Omalizumab draft differs from the label: use 225 mg SC every 2 weeks")
    card = only_card([d], hook="order-sign", drafts={"MedicationRequest/draft-oma": draft})
    assert resources_of(card, "update")  # the correction is still offered
    assert "300 mg/2 mL" in card["detail"] and "225 mg" in card["detail"]
    assert "product" in card["detail"].lower()
    # a strength that divides the dose (150 mg syringe, 300 mg dose): nothing to add
    ok = omalizumab_draft(medicationCodeableConcept={"text": "omalizumab 150 mg/mL prefilled syringe"})
    del ok["medicationReference"]
    card = only_card([decision("omalizumab-dose-mismatch")], hook="order-sign",
                     drafts={"MedicationRequest/draft-oma": ok})
    assert "product" not in card["detail"].lower()


def test_dose_mismatch_on_a_draft_without_dosage_adds_one():
    draft = omalizumab_draft()
    del draft["dosageInstruction"]
    card = only_card([decision("omalizumab-dose-mismatch", dose=decision("omalizumab-dose").dose)],
                     hook="order-sign", drafts={"MedicationRequest/draft-oma": draft})
    [resource] = resources_of(card, "update")
    assert dosage(resource) == (300, "mg", UCUM, "mg", 1, 4, "wk", SCT, "34206005")


def test_dose_mismatch_q2w_correction():
    from tests.cards.factories import table_dose
    d = decision("omalizumab-dose-mismatch", dose=table_dose(375, 2, ">400-500 IU/mL", ">70-90 kg"),
                 headline="Drafted omalizumab 300 mg every 4 weeks differs from the table: 375 mg every 2 weeks")
    card = only_card([d], hook="order-sign", drafts={"MedicationRequest/draft-oma": omalizumab_draft()})
    [resource] = resources_of(card, "update")
    assert dosage(resource)[:7] == (375, "mg", UCUM, "mg", 1, 2, "wk")


def test_dose_mismatch_without_the_raw_draft_explains_instead_of_suggesting():
    card = only_card([decision("omalizumab-dose-mismatch")], hook="order-sign", drafts={})
    assert "suggestions" not in card
    assert "Change the drafted order to omalizumab 300 mg SC every 4 weeks by hand" in card["detail"]


def test_dose_mismatch_with_an_invalid_draft_does_not_emit_an_invalid_update():
    draft = omalizumab_draft(subject="Patient/p1")  # a string where a Reference belongs
    card = only_card([decision("omalizumab-dose-mismatch")], hook="order-sign",
                     drafts={"MedicationRequest/draft-oma": draft})
    assert "suggestions" not in card
    assert "cannot be corrected automatically" in card["detail"]


def test_matching_draft_dose_card_has_no_suggestion_in_order_hooks():
    card = only_card([decision("omalizumab-dose", order_reference="MedicationRequest/draft-oma")],
                     hook="order-select", drafts={"MedicationRequest/draft-oma": omalizumab_draft()})
    assert "suggestions" not in card


def test_wrong_phenotype_draft_is_deleted_and_the_alternative_created():
    draft = omalizumab_draft()
    card = only_card([decision("omalizumab-not-preferred")], hook="order-sign",
                     drafts={"MedicationRequest/draft-oma": draft}, rxnorm=rxnorm_all)
    assert card["indicator"] == "warning"
    [suggestion] = card["suggestions"]
    assert suggestion["isRecommended"] is True
    delete, create = suggestion["actions"]
    assert delete == {"type": "delete", "description": delete["description"],
                      "resourceId": "MedicationRequest/draft-oma"}
    assert create["type"] == "create"
    [resource] = resources_of(card, "create")
    assert resource["intent"] == "order"  # the draft's intent
    assert resource["encounter"] == {"reference": "Encounter/e1"}
    assert resource["medicationCodeableConcept"]["coding"][0]["code"] == "1720597"
    assert dosage(resource) == (100, "mg", UCUM, "mg", 1, 4, "wk", SCT, "34206005")
    assert resource["note"] == [{"text": MEPOLIZUMAB.note}]


def test_wrong_phenotype_with_unverified_alternative_offers_only_the_delete():
    card = only_card([decision("omalizumab-not-preferred")], hook="order-select",
                     drafts={"MedicationRequest/draft-oma": omalizumab_draft()})
    [suggestion] = card["suggestions"]
    assert [a["type"] for a in suggestion["actions"]] == ["delete"]
    assert "isRecommended" not in suggestion
    assert "order mepolizumab 100 mg SC every 4 weeks separately" in suggestion["label"]
    assert ("Mepolizumab 100 mg SC every 4 weeks: no order is suggested (no verified RxNorm code)"
            in card["detail"])


def test_omalizumab_not_preferred_in_patient_view_has_no_delete():
    card = only_card([decision("omalizumab-not-preferred", order_reference=None)], hook="patient-view")
    assert all(a["type"] != "delete" for s in card.get("suggestions", []) for a in s["actions"])


def test_cyclosporine_draft_is_replaced_by_omalizumab_300_q4w_critical_at_sign():
    card = only_card([decision("cyclosporine-unsafe")], hook="order-sign",
                     drafts={"MedicationRequest/draft-cyc": cyclosporine_draft()})
    assert card["indicator"] == "critical"
    assert "eGFR 25" in card["summary"]
    assert "| eGFR | 25 mL/min/1.73 m2 | 2026-11-01 | Observation/egfr-1 |" in card["detail"]
    assert "not renally cleared" in card["detail"]
    assert card["overrideReasons"]
    [suggestion] = card["suggestions"]
    assert suggestion["isRecommended"] is True
    assert suggestion["label"] == "Replace cyclosporine with omalizumab 300 mg SC every 4 weeks"
    delete, create = suggestion["actions"]
    assert delete["type"] == "delete" and delete["resourceId"] == "MedicationRequest/draft-cyc"
    [resource] = resources_of(card, "create")
    assert resource["intent"] == "original-order"
    assert resource["medicationCodeableConcept"]["coding"][0] == {"system": RXNORM, "code": "302379",
                                                                   "display": "omalizumab"}
    assert dosage(resource) == (300, "mg", UCUM, "mg", 1, 4, "wk", SCT, "34206005")


def test_cyclosporine_replacement_without_raw_draft_uses_order_intent():
    card = only_card([decision("cyclosporine-unsafe", indicator="warning")], hook="order-select", drafts={})
    [resource] = resources_of(card, "create")
    assert resource["intent"] == "order"
    assert card["suggestions"][0]["actions"][0]["resourceId"] == "MedicationRequest/draft-cyc"


def test_cyclosporine_risk_in_patient_view_proposes_omalizumab():
    card = only_card([decision("cyclosporine-unsafe", indicator="warning", order_reference=None)])
    [resource] = resources_of(card, "create")
    assert resource["intent"] == "proposal"
    assert dosage(resource)[:7] == (300, "mg", UCUM, "mg", 1, 4, "wk")


# --- alternatives in patient-view ------------------------------------------------------------------------------

def test_anti_il5_proposals_only_for_verified_complete_regimens():
    card = only_card([decision("anti-il5-recommended")], rxnorm=rxnorm_all)
    labels = [s["label"] for s in card["suggestions"]]
    assert labels == ["Order mepolizumab 100 mg SC every 4 weeks", "Order reslizumab 3 mg/kg IV every 4 weeks"]
    assert [s.get("isRecommended", False) for s in card["suggestions"]] == [True, False]
    mepo, resli = resources_of(card, "create")
    assert dosage(mepo) == (100, "mg", UCUM, "mg", 1, 4, "wk", SCT, "34206005")
    assert dosage(resli) == (3, "mg/kg", UCUM, "mg/kg", 1, 4, "wk", SCT, "47625008")
    assert all(r["intent"] == "proposal" for r in (mepo, resli))
    # benralizumab's loading schedule cannot be coded: listed, with its note, but not offered as an order
    assert "- Benralizumab 30 mg SC every 4 weeks x3, then every 8 weeks (Loading schedule" in card["detail"]
    assert "**Ordering:**" not in card["detail"]  # only a missing button for the preferred option is explained


def test_anti_il5_without_verified_codes_lists_the_agents_only():
    card = only_card([decision("anti-il5-recommended")])
    assert "suggestions" not in card
    for name in ("Mepolizumab 100 mg SC every 4 weeks", "Reslizumab 3 mg/kg IV every 4 weeks"):
        assert f"- {name}" in card["detail"]
    assert "Age 18 and over" in card["detail"]


def test_leukotriene_modifier_proposal_is_oral_daily_montelukast():
    card = only_card([decision("leukotriene-modifier-recommended")])
    [resource] = resources_of(card, "create")
    assert resource["medicationCodeableConcept"]["coding"][0]["code"] == "88249"
    assert dosage(resource) == (10, "mg", UCUM, "mg", 1, 1, "d", SCT, "26643006")
    assert card["suggestions"][0]["isRecommended"] is True


def test_unknown_route_is_never_coded():
    odd = OMALIZUMAB_CSU.__class__("omalizumab", "Omalizumab 300 mg intramuscular", 300, "mg", 1, 4, "wk",
                                   "intramuscular")
    card = only_card([decision("cyclosporine-unsafe", order_reference=None, alternatives=(odd,))])
    assert "suggestions" not in card


# --- errors ----------------------------------------------------------------------------------------------------

def test_unknown_hook_is_refused():
    with pytest.raises(ValueError, match="unknown hook"):
        build([decision("data-needed")], hook="encounter-start")


def test_unknown_indicator_is_refused():
    with pytest.raises(CardValidationError, match="indicator"):
        build([decision("data-needed", indicator="hard-stop")])


def test_relative_citation_url_is_refused():
    from clinical_core.decisions import Citation
    with pytest.raises(CardValidationError, match="absolute"):
        build([decision("data-needed", citation=Citation("Label", "label.pdf"))])


def test_no_decisions_give_no_cards():
    assert build([]) == []


def test_dose_citation_becomes_a_link_when_it_differs_from_the_source():
    from clinical_core.decisions import Citation
    from tests.cards.factories import table_dose
    dose = table_dose()
    dose = dose.__class__(**{**{f: getattr(dose, f) for f in dose.__slots__},
                             "citation": Citation("Xolair US PI section 2.3", "https://example.org/pi#2.3")})
    card = only_card([decision("omalizumab-dose", dose=dose)])
    assert card["links"] == [{"label": "Xolair US PI section 2.3", "url": "https://example.org/pi#2.3",
                              "type": "absolute"}]


def test_incomplete_omalizumab_draft_at_order_select_gets_the_table_dose_filled_in():
    draft = omalizumab_draft()
    del draft["dosageInstruction"]
    card = only_card([decision("omalizumab-dose", order_reference="MedicationRequest/draft-oma")],
                     hook="order-select", drafts={"MedicationRequest/draft-oma": draft})
    assert card["indicator"] == "info"
    [suggestion] = card["suggestions"]
    assert suggestion["label"] == "Complete draft: omalizumab 300 mg SC every 4 weeks"
    [resource] = resources_of(card, "update")
    assert resource["id"] == "draft-oma" and resource["intent"] == "order"
    assert dosage(resource) == (300, "mg", UCUM, "mg", 1, 4, "wk", SCT, "34206005")


def test_draft_with_dose_but_no_interval_is_incomplete():
    draft = omalizumab_draft()
    draft["dosageInstruction"][0].pop("timing")
    card = only_card([decision("omalizumab-dose", order_reference="MedicationRequest/draft-oma")],
                     hook="order-select", drafts={"MedicationRequest/draft-oma": draft})
    [resource] = resources_of(card, "update")
    assert resource["dosageInstruction"][0]["timing"] == {"repeat": {"frequency": 1, "period": 4, "periodUnit": "wk"}}


def test_draft_without_id_cannot_be_updated_and_says_so():
    draft = omalizumab_draft()
    del draft["id"]
    card = only_card([decision("omalizumab-dose-mismatch")], hook="order-sign",
                     drafts={"MedicationRequest/draft-oma": draft})
    assert "suggestions" not in card
    assert "by hand (the draft has no id)" in card["detail"]


def test_default_rxnorm_lookup_is_fhir_mappings(monkeypatch):
    import fhir_mappings
    asked = []

    def fake(agent):
        asked.append(agent)
        return None

    monkeypatch.setattr(fhir_mappings, "rxnorm_for", fake)
    [card] = build_cards([decision("anti-il5-recommended")], hook="patient-view", patient_id="p1")
    assert set(asked) == {"mepolizumab", "reslizumab"}  # benralizumab's regimen is incomplete: never looked up
    assert "suggestions" not in card


def test_real_code_set_codes_omalizumab_302379():
    [card] = build_cards([decision("omalizumab-dose")], hook="patient-view", patient_id="p1")
    [resource] = resources_of(card, "create")
    assert resource["medicationCodeableConcept"]["coding"][0]["code"] == "302379"


def test_unverified_regimen_is_never_coded_even_with_a_verified_rxnorm_code():
    from clinical_core.options import CHECK_LABEL
    from clinical_core.decisions import TherapyOption
    dupilumab = TherapyOption("dupilumab", "Dupilumab 200 mg SC every 2 weeks (after a 400 mg loading dose)",
                              200, "mg", 1, 2, "wk", "subcutaneous", note=f"from 12 years; {CHECK_LABEL}",
                              verified=False)
    card = only_card([decision("anti-il5-recommended", alternatives=(dupilumab,))],
                     rxnorm=lambda a: ("1876376", "dupilumab"))
    assert "suggestions" not in card
    assert "(the regimen is not verified from a label here)" in card["detail"]


def test_underage_anti_il5_draft_is_replaced_by_the_age_appropriate_agent():
    reslizumab_draft = {"resourceType": "MedicationRequest", "id": "draft-resli", "status": "draft",
                        "intent": "order", "subject": {"reference": "Patient/p1"},
                        "medicationCodeableConcept": {"text": "Cinqair (reslizumab) 100 mg/10 mL vial"}}
    d = decision("anti-il5-recommended", indicator="warning", alternatives=(MEPOLIZUMAB,),
                 headline="Reslizumab is labelled from 18 years; the patient is 15",
                 order_reference="MedicationRequest/draft-resli")
    card = only_card([d], hook="order-sign", drafts={"MedicationRequest/draft-resli": reslizumab_draft},
                     rxnorm=rxnorm_all)
    [suggestion] = card["suggestions"]
    assert suggestion["label"] == "Replace Cinqair (reslizumab) 100 mg/10 mL vial with mepolizumab 100 mg SC every 4 weeks"
    delete, create = suggestion["actions"]
    assert delete["resourceId"] == "MedicationRequest/draft-resli"
    [resource] = resources_of(card, "create")
    assert dosage(resource) == (100, "mg", UCUM, "mg", 1, 4, "wk", SCT, "34206005")
    assert card["overrideReasons"]


def test_cyclosporine_warning_without_an_alternative_offers_no_delete():
    card = only_card([decision("cyclosporine-unsafe", alternatives=())], hook="order-sign",
                     drafts={"MedicationRequest/draft-cyc": cyclosporine_draft()})
    assert "suggestions" not in card
    assert card["indicator"] == "critical" and card["overrideReasons"]


def test_original_value_is_shown_only_when_it_differs():
    same = Evidence("Baseline total IgE", "180 IU/mL", date(2026, 8, 12), "Observation/i", original="180 IU/mL")
    card = only_card([decision("omalizumab-dose", evidence=(same,))])
    assert "| Baseline total IgE | 180 IU/mL | 2026-08-12 | Observation/i |" in card["detail"]


def test_preferred_option_without_a_code_is_explained():
    card = only_card([decision("anti-il5-recommended")])  # mepolizumab unverified in this lookup
    assert ("- Mepolizumab 100 mg SC every 4 weeks: no order is suggested (no verified RxNorm code)"
            in card["detail"])
    assert "Reslizumab 3 mg/kg IV every 4 weeks: no order" not in card["detail"]


def test_mismatch_card_does_not_repeat_the_dose_as_an_alternative():
    d = decision("omalizumab-dose-mismatch", alternatives=(table_dose().as_option(),))
    card = only_card([d], hook="order-sign", drafts={"MedicationRequest/draft-oma": omalizumab_draft()})
    assert "Fits instead" not in card["detail"]
    assert "**Dose:** omalizumab 300 mg SC every 4 weeks" in card["detail"]


def test_treats_line_only_on_omalizumab_cards():
    card = only_card([decision("cyclosporine-unsafe", covers=("cyclosporine-renal-risk", "cyclosporine-bp-risk"))],
                     hook="order-sign", drafts={"MedicationRequest/draft-cyc": cyclosporine_draft()})
    assert "Treats" not in card["detail"]


def test_unit_spelling_differences_are_not_shown_as_a_conversion():
    ev = Evidence("eGFR", "41 mL/min/1.73 m²", date(2026, 10, 14), "Observation/e", original="41 mL/min/1.73m2")
    card = only_card([decision("data-needed", evidence=(ev,))])
    assert "reported as" not in card["detail"]


def test_the_same_new_order_is_offered_on_one_card_only():
    cyclosporine = decision("cyclosporine-unsafe", indicator="warning", order_reference=None)
    dose = decision("omalizumab-dose", dose=table_dose(), headline="Omalizumab 300 mg SC every 4 weeks for CSU")
    warning, info = build([cyclosporine, dose])
    assert warning["source"]["topic"]["code"] == "cyclosporine-unsafe"
    assert "suggestions" not in warning and "selectionBehavior" not in warning
    assert ('Order omalizumab 300 mg SC every 4 weeks: offered on the card "Omalizumab 300 mg SC every 4 '
            'weeks for CSU".') in warning["detail"]
    [create] = resources_of(info, "create")
    assert dosage(create)[:7] == (300, "mg", UCUM, "mg", 1, 4, "wk")


def test_different_regimens_keep_their_own_buttons():
    cyclosporine = decision("cyclosporine-unsafe", indicator="warning", order_reference=None)
    dose = decision("omalizumab-dose", dose=table_dose(150, 4), headline="Omalizumab 150 mg SC every 4 weeks")
    warning, info = build([cyclosporine, dose])
    assert len(resources_of(warning, "create")) == 1 and len(resources_of(info, "create")) == 1


def test_a_caution_that_repeats_an_option_note_is_shown_once():
    from clinical_core.decisions import TherapyOption
    benra = TherapyOption("benralizumab", "Benralizumab 30 mg SC every 4 weeks x3, then every 8 weeks",
                          note="from 12 years; check the label: this regimen is not verified in this service")
    d = decision("anti-il5-recommended", alternatives=(MEPOLIZUMAB, benra), cautions=(
        "Eosinophil thresholds are product policy.",
        "Benralizumab 30 mg SC every 4 weeks x3, then every 8 weeks: check the label: this regimen is not "
        "verified in this service."))
    detail = only_card([d])["detail"]
    assert detail.count("check the label") == 1
    assert "- Eosinophil thresholds are product policy." in detail
    assert "**Options (first preferred):**" in detail


def test_correction_makes_a_wrong_route_subcutaneous_and_drops_a_count_at_a_new_interval():
    draft = omalizumab_draft()
    d0 = draft["dosageInstruction"][0]
    d0["route"] = {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}], "text": "IV"}
    d0["timing"]["repeat"]["count"] = 6
    d = decision("omalizumab-dose-mismatch", dose=table_dose(225, 2))
    card = only_card([d], hook="order-sign", drafts={"MedicationRequest/draft-oma": draft})
    [resource] = resources_of(card, "update")
    assert dosage(resource) == (225, "mg", UCUM, "mg", 1, 2, "wk", SCT, "34206005")
    assert "count" not in resource["dosageInstruction"][0]["timing"]["repeat"]


def test_correction_keeps_the_route_text_and_count_when_only_the_dose_changes():
    draft = omalizumab_draft()
    draft["dosageInstruction"][0]["timing"]["repeat"]["count"] = 6
    card = only_card([decision("omalizumab-dose-mismatch")], hook="order-sign",
                     drafts={"MedicationRequest/draft-oma": draft})
    [resource] = resources_of(card, "update")
    assert resource["dosageInstruction"][0]["route"] == draft["dosageInstruction"][0]["route"]
    assert resource["dosageInstruction"][0]["timing"]["repeat"]["count"] == 6


def test_malformed_dosage_in_a_draft_does_not_crash_the_correction():
    draft = omalizumab_draft(dosageInstruction={"text": "not a list"})
    card = only_card([decision("omalizumab-dose-mismatch")], hook="order-sign",
                     drafts={"MedicationRequest/draft-oma": draft})
    [resource] = resources_of(card, "update")
    assert dosage(resource) == (300, "mg", UCUM, "mg", 1, 4, "wk", SCT, "34206005")


def test_a_regimen_listed_twice_on_one_card_gets_one_button():
    card = only_card([decision("leukotriene-modifier-recommended",
                               alternatives=(decision("leukotriene-modifier-recommended").alternatives[0],) * 2)])
    assert len(card["suggestions"]) == 1
