"""Each scenario of ../shared/docs/clinical-brief.md as whole hook requests through the Flask test client.

Requests carry a complete prefetch built from the demo patients' FHIR resources (tests/e2e/hooks.py).
Assertions follow the brief: topics, indicators, the key facts in summaries and details, and the
suggested MedicationRequests (RxNorm code, dose, UCUM unit, interval, route, intent). Every response
also passes the generic checks in hooks.check_response (spec-valid cards, most severe first, unique
uuids, FHIR-valid suggestion resources, one omalizumab dose card at most).
"""
from __future__ import annotations

import pytest

from tests.e2e.hooks import (UCUM, actions, call, draft, edit, has_loinc, hook_request, patient_id_of,
                             patient_resources, regimen, the_card, topics)

OMALIZUMAB_RX = "302379"
SUBCUTANEOUS = "34206005"


def run(client, slug: str, hook: str = "patient-view", *, drafts: tuple[str, ...] = (),
        resources: list[dict] | None = None, **kw):
    resources = resources if resources is not None else patient_resources(slug)
    pid = patient_id_of(resources)
    draft_resources = [draft(d, pid) for d in drafts]
    return call(client, hook_request(hook, resources, drafts=draft_resources, **kw))


def assert_omalizumab_order(resource: dict, *, mg: int, weeks: int, intent: str) -> None:
    assert regimen(resource) == {"rxnorm": OMALIZUMAB_RX, "dose": mg, "unit": "mg", "unit_system": UCUM,
                                 "frequency": 1, "period": weeks, "periodUnit": "wk",
                                 "route": SUBCUTANEOUS, "intent": intent, "status": "draft"}


def no_alarm(cards: list[dict]) -> bool:
    return all(c["indicator"] == "info" for c in cards)


# --- 1. severe allergic asthma -------------------------------------------------------------------------

SLUG1 = "allergic-asthma-adult"


def test_1_allergic_asthma_patient_view_gives_table_dose(e2e_client):
    cards = run(e2e_client, SLUG1)
    card = the_card(cards, "omalizumab-dose")
    assert card["indicator"] == "info"
    assert "300 mg" in card["summary"] and "4 week" in card["summary"]
    detail = card["detail"]
    assert "Table 1" in detail
    assert "100-200" in detail and "70-90" in detail  # IgE band and weight band of the cell used
    assert "150" in detail and "75 kg" in detail  # baseline IgE 150 IU/mL, weight 75 kg
    assert "Observation/" in detail  # resource ids of the facts
    [create] = actions(card, "create")
    assert_omalizumab_order(create["resource"], mg=300, weeks=4, intent="proposal")
    assert create["resource"]["subject"] == {"reference": "Patient/demo-allergic-asthma-adult"}
    assert "anti-il5-recommended" not in topics(cards)  # eosinophils 120-130/uL


def test_1_order_select_150mg_draft_is_corrected_to_300mg(e2e_client):
    cards = run(e2e_client, SLUG1, "order-select", drafts=("draft-omalizumab-150mg-q4w",))
    card = the_card(cards, "omalizumab-dose-mismatch")
    assert card["indicator"] == "warning"
    assert "300 mg" in card["summary"]
    assert "150" in card["detail"]
    [update] = actions(card, "update")
    resource = update["resource"]
    assert resource["id"] == "draft-omalizumab-150mg-q4w"
    assert_omalizumab_order(resource, mg=300, weeks=4, intent="order")
    assert resource["requester"]["reference"] == "Practitioner/demo-practitioner"  # rest of the draft kept


def test_1_order_sign_matching_300mg_draft_raises_no_warning(e2e_client):
    cards = run(e2e_client, SLUG1, "order-sign", drafts=("draft-omalizumab-300mg-q4w",))
    assert no_alarm(cards)
    assert "omalizumab-dose-mismatch" not in topics(cards)


def test_1_order_sign_table_dose_by_a_route_coded_only_as_intravenous_is_a_mismatch(e2e_client):
    """The route arrives as a bare SNOMED CT code (no text): it must still be read, and warned about."""
    import copy

    pid = "demo-allergic-asthma-adult"
    iv = draft("draft-omalizumab-300mg-q4w", pid)
    iv["dosageInstruction"] = copy.deepcopy(iv["dosageInstruction"])
    iv["dosageInstruction"][0]["route"] = {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]}
    cards = call(e2e_client, hook_request("order-sign", patient_resources(SLUG1), drafts=[iv]))
    assert "omalizumab-dose-mismatch" in topics(cards)
    assert the_card(cards, "omalizumab-dose-mismatch")["indicator"] == "warning"


@pytest.mark.parametrize("value, unit", [(1e308, "g"), (10 ** 400, "mg")], ids=["1e308 g", "10**400 mg"])
def test_1_order_sign_dose_beyond_the_float_range_is_warned_not_dropped(e2e_client, value, unit):
    """1e308 g (infinite in mg) or a 400-digit integer is valid JSON: the draft gets the mismatch warning
    with the label dose, not a 422 (session 4's long fuzz run) nor silence (the draft dropped)."""
    import copy

    pid = "demo-allergic-asthma-adult"
    absurd = draft("draft-omalizumab-300mg-q4w", pid)
    absurd["dosageInstruction"] = copy.deepcopy(absurd["dosageInstruction"])
    absurd["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"].update(value=value, unit=unit, code=unit)
    cards = call(e2e_client, hook_request("order-sign", patient_resources(SLUG1), drafts=[absurd]))
    card = the_card(cards, "omalizumab-dose-mismatch")
    assert card["indicator"] == "warning" and "300 mg" in card["summary"]
    assert "no readable dose" in card["detail"]


def test_1_order_select_incomplete_draft_is_not_an_error(e2e_client):
    pid = "demo-allergic-asthma-adult"
    incomplete = draft("draft-omalizumab-150mg-q4w", pid, dosageInstruction=None)
    cards = call(e2e_client, hook_request("order-select", patient_resources(SLUG1), drafts=[incomplete]))
    assert "omalizumab-dose-mismatch" not in topics(cards)
    assert no_alarm(cards)
    for update in [u for c in cards for u in actions(c, "update")]:  # if the table dose is offered
        assert_omalizumab_order(update["resource"], mg=300, weeks=4, intent="order")


def test_1_order_select_medication_reference_draft_in_a_bundle_without_type(e2e_client):
    pid = "demo-allergic-asthma-adult"
    med = {"resourceType": "Medication", "id": "xolair-150",
           "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": OMALIZUMAB_RX,
                                "display": "omalizumab"}], "text": "Xolair 150 mg/mL prefilled syringe"}}
    by_reference = draft("draft-omalizumab-150mg-q4w", pid, medicationCodeableConcept=None,
                         medicationReference={"reference": "#xolair-150"}, contained=[med])
    request = hook_request("order-select", patient_resources(SLUG1), drafts=[by_reference])
    assert "type" not in request["context"]["draftOrders"]
    cards = call(e2e_client, request)
    card = the_card(cards, "omalizumab-dose-mismatch")
    [update] = actions(card, "update")
    assert update["resource"]["medicationReference"] == {"reference": "#xolair-150"}
    assert update["resource"]["contained"] == [med]
    dose = update["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    assert (dose["value"], dose["code"]) == (300, "mg")


def test_1_order_sign_medication_reference_to_a_medication_in_the_draft_bundle(e2e_client):
    pid = "demo-allergic-asthma-adult"
    med = {"resourceType": "Medication", "id": "xolair-150-pfs",
           "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": OMALIZUMAB_RX}],
                    "text": "Xolair 150 mg/mL"}}
    by_reference = draft("draft-omalizumab-150mg-q4w", pid, medicationCodeableConcept=None,
                         medicationReference={"reference": "Medication/xolair-150-pfs"})
    request = hook_request("order-sign", patient_resources(SLUG1), drafts=[by_reference],
                           extra_draft_entries=[{"resource": med}])
    card = the_card(call(e2e_client, request), "omalizumab-dose-mismatch")
    [update] = actions(card, "update")
    assert update["resource"]["medicationReference"] == {"reference": "Medication/xolair-150-pfs"}
    assert update["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 300


def test_1_order_select_brand_name_text_only_draft(e2e_client):
    pid = "demo-allergic-asthma-adult"
    text_only = draft("draft-omalizumab-150mg-q4w", pid,
                      medicationCodeableConcept={"text": "XOLAIR 150 mg/mL prefilled syringe"})
    cards = call(e2e_client, hook_request("order-select", patient_resources(SLUG1), drafts=[text_only],
                                          bundle_type="collection"))
    card = the_card(cards, "omalizumab-dose-mismatch")
    [update] = actions(card, "update")
    assert update["resource"]["medicationCodeableConcept"] == {"text": "XOLAIR 150 mg/mL prefilled syringe"}


def test_1_order_select_focuses_on_selections(e2e_client):
    pid = "demo-allergic-asthma-adult"
    wrong = draft("draft-omalizumab-150mg-q4w", pid)
    other = draft("draft-mepolizumab-100mg-q4w", pid)
    cards = call(e2e_client, hook_request("order-select", patient_resources(SLUG1), drafts=[wrong, other],
                                          selections=["MedicationRequest/draft-mepolizumab-100mg-q4w"]))
    assert "omalizumab-dose-mismatch" not in topics(cards)


def test_1_order_sign_checks_every_draft(e2e_client):
    cards = run(e2e_client, SLUG1, "order-sign",
                drafts=("draft-mepolizumab-100mg-q4w", "draft-omalizumab-150mg-q4w"))
    card = the_card(cards, "omalizumab-dose-mismatch")
    [update] = actions(card, "update")
    assert update["resource"]["id"] == "draft-omalizumab-150mg-q4w"


# --- 2. eosinophilic, non-allergic severe asthma --------------------------------------------------------

SLUG2 = "eosinophilic-asthma"


def test_2_eosinophilic_patient_view_recommends_anti_il5(e2e_client):
    cards = run(e2e_client, SLUG2)
    card = the_card(cards, "anti-il5-recommended")
    assert card["indicator"] == "info"
    detail = card["detail"].lower()
    assert "mepolizumab" in detail and "100 mg" in detail
    assert "reslizumab" in detail and "18" in detail
    assert "benralizumab" in detail
    assert "420" in card["detail"] or "480" in card["detail"]  # the eosinophil counts used
    assert "omalizumab-dose" not in topics(cards)


def test_2_order_select_omalizumab_draft_is_the_wrong_tool(e2e_client):
    cards = run(e2e_client, SLUG2, "order-select", drafts=("draft-omalizumab-300mg-q4w",))
    card = the_card(cards, "omalizumab-not-preferred")
    assert card["indicator"] == "warning"
    assert card["overrideReasons"]
    [suggestion] = card["suggestions"]
    assert suggestion["actions"][0] == {"type": "delete", "description": suggestion["actions"][0]["description"],
                                        "resourceId": "MedicationRequest/draft-omalizumab-300mg-q4w"}
    for create in suggestion["actions"][1:]:
        assert create["resource"]["intent"] == "order"
        assert regimen(create["resource"])["rxnorm"] != OMALIZUMAB_RX
    assert "mepolizumab" in card["detail"].lower()


def test_2_order_sign_mepolizumab_draft_fits(e2e_client):
    cards = run(e2e_client, SLUG2, "order-sign", drafts=("draft-mepolizumab-100mg-q4w",))
    assert "omalizumab-not-preferred" not in topics(cards)
    assert no_alarm(cards)


# --- 3. CSU refractory to H1 antihistamines -------------------------------------------------------------

SLUG3 = "csu-refractory"


def test_3_csu_patient_view_gives_300mg_q4w_whatever_ige_and_weight(e2e_client):
    cards = run(e2e_client, SLUG3)
    card = the_card(cards, "omalizumab-dose")
    assert "300 mg" in card["summary"] and "4 week" in card["summary"]
    assert "urticaria" in card["detail"].lower() or "csu" in card["detail"].lower()
    [create] = actions(card, "create")
    assert_omalizumab_order(create["resource"], mg=300, weeks=4, intent="proposal")


def test_3_csu_without_kidney_or_bp_risk_gets_no_cyclosporine_alarm(e2e_client):
    cards = run(e2e_client, SLUG3, "order-sign", drafts=("draft-cyclosporine-150mg-bid",))
    assert not [c for c in cards if c["source"]["topic"]["code"] == "cyclosporine-unsafe"
                and c["indicator"] in ("warning", "critical")]


# --- 4. CSU with CKD or hypertension -----------------------------------------------------------------------

SLUG4 = "csu-ckd-hypertension"


def _replace_cyclosporine_with_omalizumab(card: dict, *, intent: str) -> None:
    [suggestion] = card["suggestions"]
    assert suggestion["isRecommended"] is True
    delete, create = suggestion["actions"]
    assert delete["type"] == "delete"
    assert delete["resourceId"] == "MedicationRequest/draft-cyclosporine-150mg-bid"
    assert create["type"] == "create"
    assert_omalizumab_order(create["resource"], mg=300, weeks=4, intent=intent)


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_4_cyclosporine_draft_with_ckd_and_hypertension_is_warned(e2e_client, hook):
    cards = run(e2e_client, SLUG4, hook, drafts=("draft-cyclosporine-150mg-bid",))
    card = the_card(cards, "cyclosporine-unsafe")
    # eGFR 41 and BP 148/94 are below the critical thresholds, but the BP is high on amlodipine and lisinopril:
    # uncontrolled hypertension on treatment, a label contraindication, is critical at order-sign
    # (policy bp_uncontrolled_on_treatment_critical); order-select stays a warning
    assert card["indicator"] == ("critical" if hook == "order-sign" else "warning")
    assert cards[0] is card
    if hook == "order-sign":
        assert "uncontrolled hypertension on an antihypertensive" in card["detail"]
    detail = card["detail"]
    assert "41" in detail  # newest eGFR
    assert "148" in detail and "94" in detail  # newest blood pressure
    assert "renal" in detail.lower() or "kidney" in detail.lower()
    assert "blood pressure" in detail.lower()
    assert all(r["display"] for r in card["overrideReasons"])
    _replace_cyclosporine_with_omalizumab(card, intent="order")


def _set_egfr(resources: list[dict], value: float) -> None:
    changed = edit(resources, lambda r: has_loinc(r, "98979-8", "33914-3", "62238-1", "48642-3", "48643-1",
                                                  "77147-7", "88293-6", "88294-4", "94677-2"),
                   lambda r: r["valueQuantity"].update(value=value))
    assert changed


def _set_bp(resources: list[dict], systolic: int, diastolic: int) -> None:
    def change(r):
        for comp in r.get("component", []):
            code = comp["code"]["coding"][0]["code"]
            comp["valueQuantity"]["value"] = systolic if code == "8480-6" else diastolic
    assert edit(resources, lambda r: has_loinc(r, "85354-9"), change)


def test_4_order_sign_with_egfr_below_30_is_critical(e2e_client):
    resources = patient_resources(SLUG4)
    _set_egfr(resources, 25)
    cards = run(e2e_client, SLUG4, "order-sign", drafts=("draft-cyclosporine-150mg-bid",), resources=resources)
    card = the_card(cards, "cyclosporine-unsafe")
    assert card["indicator"] == "critical"
    assert cards[0] is card
    assert "25" in card["detail"]
    _replace_cyclosporine_with_omalizumab(card, intent="order")


def test_4_order_select_with_egfr_below_30_stays_a_warning(e2e_client):
    resources = patient_resources(SLUG4)
    _set_egfr(resources, 25)
    cards = run(e2e_client, SLUG4, "order-select", drafts=("draft-cyclosporine-150mg-bid",), resources=resources)
    assert the_card(cards, "cyclosporine-unsafe")["indicator"] == "warning"


def test_4_order_sign_with_bp_180_110_is_critical(e2e_client):
    resources = patient_resources(SLUG4)
    _set_bp(resources, 186, 114)
    cards = run(e2e_client, SLUG4, "order-sign", drafts=("draft-cyclosporine-150mg-bid",), resources=resources)
    card = the_card(cards, "cyclosporine-unsafe")
    assert card["indicator"] == "critical"
    assert "186" in card["detail"]


def test_4_patient_view_recommends_omalizumab_once(e2e_client):
    cards = run(e2e_client, SLUG4)
    card = the_card(cards, "omalizumab-dose")
    [create] = actions(card, "create")
    assert_omalizumab_order(create["resource"], mg=300, weeks=4, intent="proposal")
    creates = [a for c in cards for a in actions(c, "create") if regimen(a["resource"])["rxnorm"] == OMALIZUMAB_RX]
    assert len(creates) == 1  # the cyclosporine warning points to the dose card instead of a second button


# --- 5. adolescent with allergic asthma and CSU ------------------------------------------------------------

SLUG5 = "adolescent-asthma-csu"


def test_5_adolescent_asthma_and_csu_get_one_omalizumab_card(e2e_client):
    cards = run(e2e_client, SLUG5)
    card = the_card(cards, "omalizumab-dose")  # exactly one
    assert not [c for c in cards if c is not card and "omalizumab" in c["source"]["topic"]["code"]]
    assert "150 mg" in card["summary"] and "4 week" in card["summary"]
    detail = card["detail"].lower()
    assert "asthma" in detail and ("urticaria" in detail or "csu" in detail)
    assert "300 mg" in detail  # CSU trials used 300 mg q4w: the clinician chooses
    assert "52" in card["detail"]  # weight converted from 114.6 lb
    [create] = actions(card, "create")
    assert_omalizumab_order(create["resource"], mg=150, weeks=4, intent="proposal")


def test_5_asthma_dose_above_300_per_4_weeks_turns_a_300mg_q4w_draft_into_a_mismatch(e2e_client):
    """Same adolescent with baseline IgE 450 IU/mL: Table 1 gives 300 mg every 2 weeks (52 kg). A 300 mg
    every-4-weeks draft (the CSU dose) would halve the asthma dose: corrected to 300 mg every 2 weeks."""
    resources = patient_resources(SLUG5)
    assert edit(resources, lambda r: has_loinc(r, "19113-0"), lambda r: r["valueQuantity"].update(value=450))
    cards = run(e2e_client, SLUG5, "order-sign", drafts=("draft-omalizumab-300mg-q4w",), resources=resources)
    card = the_card(cards, "omalizumab-dose-mismatch")
    assert "300 mg SC every 2 weeks" in card["summary"]
    [update] = actions(card, "update")
    assert_omalizumab_order(update["resource"], mg=300, weeks=2, intent="order")


# --- 6. AERD -------------------------------------------------------------------------------------------------

SLUG6 = "aerd"


def test_6_aerd_patient_view_recommends_leukotriene_modifier(e2e_client):
    cards = run(e2e_client, SLUG6)
    card = the_card(cards, "leukotriene-modifier-recommended")
    detail = card["detail"].lower()
    assert "montelukast" in detail
    assert "desensiti" in detail  # aspirin desensitisation referral
    assert "310" in card["detail"]  # urinary LTE4 used
    assert "omalizumab-dose" not in topics(cards)
    for create in actions(card, "create"):
        res = regimen(create["resource"])
        assert res["intent"] == "proposal" and res["route"] == "26643006"  # oral


def test_6_aerd_omalizumab_draft_at_order_sign_is_warned(e2e_client):
    cards = run(e2e_client, SLUG6, "order-sign", drafts=("draft-omalizumab-300mg-q4w",))
    card = the_card(cards, "omalizumab-not-preferred")
    assert card["indicator"] == "warning"
    [suggestion] = card["suggestions"]
    delete, create = suggestion["actions"]  # replace the omalizumab draft with montelukast
    assert delete["resourceId"] == "MedicationRequest/draft-omalizumab-300mg-q4w"
    assert regimen(create["resource"]) == {"rxnorm": "88249", "dose": 10, "unit": "mg", "unit_system": UCUM,
                                           "frequency": 1, "period": 1, "periodUnit": "d", "route": "26643006",
                                           "intent": "order", "status": "draft"}


@pytest.mark.parametrize("slug", [SLUG2, SLUG6])
def test_omalizumab_draft_without_an_id_is_still_warned_at_order_sign(e2e_client, slug):
    """A draft MedicationRequest may come without an id (valid FHIR). No delete action can name it, so
    the card keeps the warning, offers the alternative as a plain create where it can be coded, and
    says to remove the draft by hand (it used to be refused by card validation: a 422, no card)."""
    res = patient_resources(slug)
    anonymous = draft("draft-omalizumab-300mg-q4w", patient_id_of(res))
    del anonymous["id"]
    cards = call(e2e_client, hook_request("order-sign", res, drafts=[anonymous]))
    card = the_card(cards, "omalizumab-not-preferred")
    assert card["indicator"] == "warning" and card["overrideReasons"]
    assert "by hand" in card["detail"]
    actions_ = [a for s in card.get("suggestions", []) for a in s["actions"]]
    assert all(a["type"] == "create" for a in actions_)
    if slug == SLUG6:  # montelukast has a verified RxNorm code: offered as a new order
        [create] = actions_
        assert regimen(create["resource"])["rxnorm"] == "88249"


# --- 7. nasal polyps ----------------------------------------------------------------------------------------

def test_7_nasal_polyps_no_dose_from_an_unverified_table(e2e_client):
    cards = run(e2e_client, "nasal-polyps")
    card = the_card(cards, "omalizumab-not-dosable")
    assert card["indicator"] == "warning"
    assert "Table 3" in card["detail"] or "table 3" in card["detail"].lower()
    assert "omalizumab-dose" not in topics(cards)
    assert not [a for c in cards for a in actions(c, "create")
                if regimen(a["resource"])["rxnorm"] == OMALIZUMAB_RX]


# --- 8. IgE-mediated food allergy -----------------------------------------------------------------------------

def test_8_food_allergy_info_card_without_automated_dose(e2e_client):
    cards = run(e2e_client, "food-allergy")
    card = the_card(cards, "food-allergy-omalizumab")
    assert card["indicator"] == "info"
    assert "off-label" in card["detail"].lower()
    assert "omalizumab-dose" not in topics(cards)
    assert not [a for c in cards for a in actions(c, "create")
                if regimen(a["resource"])["rxnorm"] == OMALIZUMAB_RX]


# --- 9. bullous pemphigoid ------------------------------------------------------------------------------------

def test_9_pemphigoid_off_label_info_no_dose(e2e_client):
    cards = run(e2e_client, "bullous-pemphigoid")
    card = the_card(cards, "pemphigoid-itch-off-label")
    assert card["indicator"] == "info"
    assert "off-label" in (card["summary"] + card["detail"]).lower()
    assert "specialist" in card["detail"].lower()
    assert "suggestions" not in card
    assert "omalizumab-dose" not in topics(cards)


# --- 10. out of the table -------------------------------------------------------------------------------------

def test_10_ige_above_the_table_no_dose_and_points_to_anti_il5(e2e_client):
    cards = run(e2e_client, "out-of-table-ige")
    card = the_card(cards, "omalizumab-not-dosable")
    text = card["summary"] + card["detail"]
    assert "700" in text  # the limit that was crossed
    assert "1250" in text or "1,250" in text  # the patient's IgE
    assert "omalizumab-dose" not in topics(cards)
    assert "anti-il5-recommended" in topics(cards)  # eosinophils 420/uL


# --- 11. missing data ------------------------------------------------------------------------------------------

def test_11_missing_weight_says_what_to_measure_and_gives_no_dose(e2e_client):
    cards = run(e2e_client, "missing-weight")
    blocked = [c for c in cards if c["source"]["topic"]["code"] in ("data-needed", "omalizumab-not-dosable")]
    assert blocked, topics(cards)
    assert any("weight" in c["summary"].lower() and "- body weight" in c["detail"].lower() for c in blocked)
    assert "omalizumab-dose" not in topics(cards)
    assert not [a for c in cards for a in actions(c, "create")
                if regimen(a["resource"])["rxnorm"] == OMALIZUMAB_RX]


def test_11_missing_weight_topic_is_data_needed(e2e_client):
    cards = run(e2e_client, "missing-weight")
    card = the_card(cards, "data-needed")
    assert card["indicator"] == "info"
    assert "weight" in card["summary"].lower()


# --- 12. on treatment: baseline IgE, weight moved band ----------------------------------------------------------

SLUG12 = "on-treatment"


def test_12_on_treatment_doses_from_the_baseline_ige_and_current_weight(e2e_client):
    cards = run(e2e_client, SLUG12)
    card = the_card(cards, "omalizumab-dose")
    assert "225 mg" in card["summary"] and "2 week" in card["summary"]
    assert "180" in card["detail"]  # baseline IgE before the first dose
    [create] = actions(card, "create")
    assert_omalizumab_order(create["resource"], mg=225, weeks=2, intent="proposal")


def test_12_order_sign_300mg_q4w_draft_is_corrected_to_225mg_q2w(e2e_client):
    cards = run(e2e_client, SLUG12, "order-sign", drafts=("draft-omalizumab-300mg-q4w",))
    card = the_card(cards, "omalizumab-dose-mismatch")
    assert card["indicator"] == "warning"
    assert "225 mg" in card["summary"]
    [update] = actions(card, "update")
    assert update["resource"]["id"] == "draft-omalizumab-300mg-q4w"
    assert_omalizumab_order(update["resource"], mg=225, weeks=2, intent="order")


# --- the hook contract itself -------------------------------------------------------------------------------------

def test_every_demo_patient_gives_valid_cards_in_every_hook(e2e_client):
    from demo import store
    from tests.e2e.hooks import ANCHOR
    for slug in store.store_for(ANCHOR).bundles:
        for hook, drafts in (("patient-view", ()), ("order-select", ("draft-omalizumab-150mg-q4w",)),
                             ("order-sign", ("draft-omalizumab-300mg-q4w", "draft-cyclosporine-150mg-bid"))):
            cards = run(e2e_client, slug, hook, drafts=drafts)  # call() validates every card
            for card in cards:
                for delete in actions(card, "delete"):
                    assert delete["resourceId"].startswith("MedicationRequest/draft-")
