"""CDS_REGION=EU: the EU SmPC tables dose (Table 2, every 4 weeks, verified); the unverified every-2-weeks
table never doses (clinical-brief 'Dosing tables the service may compute from')."""
from __future__ import annotations

from tests.e2e.hooks import (UCUM, actions, call, edit, has_loinc, hook_request, patient_resources,
                             regimen, the_card, topics)


def test_eu_allergic_asthma_uses_smpc_table_2(eu_client):
    # baseline IgE 150 IU/mL, 75 kg: EU SmPC Table 2 row >100-200, column >70-80 kg = 300 mg every 4 weeks
    cards = call(eu_client, hook_request("patient-view", patient_resources("allergic-asthma-adult")))
    card = the_card(cards, "omalizumab-dose")
    assert "EU" in card["summary"] and "300 mg" in card["summary"]
    assert "70-80" in card["detail"] and "100-200" in card["detail"]
    assert "ema.europa.eu" in card["source"]["url"]
    [create] = actions(card, "create")
    assert regimen(create["resource"]) == {"rxnorm": "302379", "dose": 300, "unit": "mg", "unit_system": UCUM,
                                           "frequency": 1, "period": 4, "periodUnit": "wk",
                                           "route": "34206005", "intent": "proposal", "status": "draft"}


def test_eu_cell_in_the_unverified_q2w_table_gives_no_dose(eu_client):
    # IgE 350 IU/mL at 100 kg: EU Table 2 sends this cell to Table 3 (every 2 weeks), which is unverified
    resources = patient_resources("allergic-asthma-adult")

    def ige_350(r):
        r["valueQuantity"] = {"value": 350, "unit": "IU/mL", "system": UCUM, "code": "[IU]/mL"}

    def weight_100(r):
        r["valueQuantity"] = {"value": 100, "unit": "kg", "system": UCUM, "code": "kg"}

    assert edit(resources, lambda r: has_loinc(r, "19113-0", "2462-0", "76488-6"), ige_350)
    assert edit(resources, lambda r: has_loinc(r, "29463-7"), weight_100)
    cards = call(eu_client, hook_request("patient-view", resources))
    assert "omalizumab-dose" not in topics(cards)
    card = the_card(cards, "omalizumab-not-dosable")
    assert card["indicator"] == "warning"
    assert not [a for c in cards for a in actions(c, "create") if regimen(a["resource"])["rxnorm"] == "302379"]
