"""A regimen with a loading phase is coded as two dosage instructions in sequence (benralizumab 30 mg every
4 weeks for 3 doses, then every 8 weeks), and is still never coded while its RxCUI is unverified."""
from __future__ import annotations

from fhir.resources.R4B.medicationrequest import MedicationRequest

from cards.suggestions import new_medication_request, not_codable
from clinical_core.options import option
from fhir_mappings import rxnorm_for


def test_benralizumab_is_coded_in_two_phases_when_its_code_is_known():
    benra = option("benralizumab-asthma-12plus")
    resource = new_medication_request(benra, patient_id="p1", intent="proposal",
                                      rxnorm=lambda agent: ("RXCUI-UNDER-TEST", agent))
    assert resource is not None
    MedicationRequest.model_validate(resource)
    first, then = resource["dosageInstruction"]
    assert first["sequence"] == 1 and then["sequence"] == 2
    assert first["timing"]["repeat"] == {"frequency": 1, "period": 4, "periodUnit": "wk", "count": 3}
    assert then["timing"]["repeat"] == {"frequency": 1, "period": 8, "periodUnit": "wk"}
    for d in (first, then):
        assert d["doseAndRate"][0]["doseQuantity"]["value"] == 30


def test_a_single_phase_regimen_has_one_dosage_instruction():
    mepo = option("mepolizumab-asthma-12plus")
    resource = new_medication_request(mepo, patient_id="p1", intent="proposal", rxnorm=lambda a: ("X", a))
    assert len(resource["dosageInstruction"]) == 1 and "count" not in resource["dosageInstruction"][0]["timing"]["repeat"]


def test_benralizumab_gets_no_order_while_its_rxcui_is_unverified():
    benra = option("benralizumab-asthma-12plus")
    assert rxnorm_for("benralizumab") is None
    assert not_codable(benra, rxnorm_for) == "no verified RxNorm code"
    assert new_medication_request(benra, patient_id="p1", intent="proposal", rxnorm=rxnorm_for) is None
    child = option("benralizumab-asthma-6to11")
    assert not_codable(child, lambda a: ("X", a)) == "the regimen cannot be coded completely"  # weight-based dose
