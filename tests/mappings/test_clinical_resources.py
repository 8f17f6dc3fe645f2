"""Patient age, Conditions, MedicationRequest/Statement (with medicationReference), AllergyIntolerance."""
from __future__ import annotations

from datetime import date

import pytest

from fhir_mappings import extract_facts
from tests.mappings.fhirdata import (ICD10CM, PID, RXNORM, SNOMED, allergy, bundle, condition, med_request,
                                     med_statement, patient)

EVAL = date(2025, 7, 1)


def run(*resources, pat=None, resolve_reference=None, evaluation_date=EVAL, full_urls=False):
    data = {"patient": pat or patient(), "all": bundle(*resources, full_urls=full_urls)}
    return extract_facts(data, patient_id=PID, evaluation_date=evaluation_date,
                         resolve_reference=resolve_reference)


# ----------------------------------------------------------------------------------- patient age
@pytest.mark.parametrize("birth,age", [("2013-07-01", 12), ("2013-07-02", 11), ("1980-06-15", 45)])
def test_age_at_evaluation_date(birth, age):
    f = run(pat=patient(birth))
    assert f.age_years == age and f.birth_date == date.fromisoformat(birth)


def test_evaluation_date_is_the_clock():
    assert run(pat=patient("2013-07-01"), evaluation_date=date(2025, 6, 30)).age_years == 11


def test_partial_birth_date():
    f = run(pat=patient("1980"))  # 44 or 45 depending on the birthday
    assert f.age_years is None and any("not a full date" in i.problem for i in f.issues)
    f = run(pat=patient("1980-03"))  # every day in March 1980 gives 45 on 2025-07-01
    assert f.age_years == 45


def test_patient_of_another_id_is_ignored():
    f = run(pat=patient(pid="someone-else"))
    assert f.age_years is None and any("not the hook's patient" in i.problem for i in f.issues)


# ------------------------------------------------------------------------------------ conditions
def test_condition_codes_map_to_concepts():
    f = run(condition("c1", "389145006", display="Allergic asthma"),
            condition("c2", "J45.50", system=ICD10CM, display="Severe persistent asthma, uncomplicated"),
            condition("c3", "302162004", display="Chronic idiopathic urticaria"),
            condition("c4", "J33.9", system=ICD10CM, display="Nasal polyp, unspecified"),
            condition("c5", "N18.4", system=ICD10CM), condition("c6", "I10", system=ICD10CM),
            condition("c7", "L12.0", system=ICD10CM))
    concepts = {c.concept for c in f.conditions}
    assert concepts == {"allergic-asthma", "severe-asthma", "csu", "nasal-polyps", "ckd", "ckd-g4", "hypertension",
                        "bullous-pemphigoid"}
    c = next(c for c in f.conditions if c.concept == "severe-asthma")
    assert c.source.reference == "Condition/c2" and c.source.code == f"{ICD10CM}|J45.50"


@pytest.mark.parametrize("code,system,concepts", [
    ("N18.4", ICD10CM, {"ckd", "ckd-g4"}), ("N18.5", ICD10CM, {"ckd", "ckd-g5"}), ("N18.6", ICD10CM, {"ckd", "esrd"}),
    ("N18.32", ICD10CM, {"ckd", "ckd-g3b"}), ("N18.30", ICD10CM, {"ckd", "ckd-g3"}), ("N18.9", ICD10CM, {"ckd"}),
    ("Z99.2", ICD10CM, {"ckd", "dialysis"}), ("Z49.31", ICD10CM, {"ckd", "dialysis"}), ("Z49.01", ICD10CM, set()),
    ("Z94.0", ICD10CM, {"kidney-transplant"}), ("I12.0", ICD10CM, {"hypertension", "ckd", "ckd-g5"}),
    ("I12.9", ICD10CM, {"hypertension", "ckd"}),
    ("431857002", SNOMED, {"ckd", "ckd-g4"}), ("433146000", SNOMED, {"ckd", "ckd-g5"}),
    ("714152005", SNOMED, {"ckd", "ckd-g5", "dialysis"}), ("46177005", SNOMED, {"ckd", "esrd"}),
    ("236436003", SNOMED, {"ckd", "esrd", "kidney-transplant"}), ("105502003", SNOMED, {"ckd", "dialysis"}),
    ("737295003", SNOMED, {"kidney-transplant"}), ("161665007", SNOMED, {"kidney-transplant"}),
    ("700379002", SNOMED, {"ckd", "ckd-g3b"}),
])
def test_kidney_stage_dialysis_and_transplant_codes(code, system, concepts):
    """Issue 15: the coded CKD stage, dialysis and kidney transplant are facts (codes verified, see the code-set
    sources); Z49.0x (dialysis catheter fitting, which may precede dialysis) is deliberately not mapped."""
    f = run(condition("k1", code, system=system))
    assert {c.concept for c in f.conditions} == concepts


@pytest.mark.parametrize("text,concepts", [
    ("CKD stage 4", {"ckd", "ckd-g4"}), ("Chronic kidney disease, stage 5", {"ckd", "ckd-g5"}),
    ("End-stage renal disease on hemodialysis", {"ckd", "esrd", "dialysis"}),
    ("Kidney transplant recipient", {"kidney-transplant"}), ("Kidney transplant candidate", set()),
    ("Pre-dialysis CKD clinic", set()),
])
def test_kidney_conditions_sent_as_text_only(text, concepts):
    res = condition("k1", "unknown-local-code", system="http://example.org/local", display=text)
    assert {c.concept for c in run(res).conditions} == concepts


@pytest.mark.parametrize("kwargs", [
    {"verification": "refuted"}, {"verification": "entered-in-error"}, {"clinical": "resolved"},
    {"clinical": "inactive"}, {"clinical": "remission"},
    {"abatementDateTime": "2024-01-01"},
    {"onsetDateTime": "2025-09-01"},
])
def test_condition_not_active(kwargs):
    f = run(condition("c", "195967001", **kwargs))
    assert f.conditions == ()


def test_condition_recurrence_and_future_abatement_count():
    f = run(condition("c1", "195967001", clinical="recurrence"),
            condition("c2", "709044004", abatementDateTime="2026-01-01", onsetDateTime="2020-02-03"))
    assert {c.concept for c in f.conditions} == {"asthma", "ckd"}
    assert next(c for c in f.conditions if c.concept == "ckd").onset == date(2020, 2, 3)


def test_condition_text_only_fallback():
    c = condition("c", "xyz", system="http://local.example/codes")
    c["code"] = {"text": "Chronic rhinosinusitis with nasal polyps"}
    f = run(c)
    assert [x.concept for x in f.conditions] == ["nasal-polyps"]
    assert f.conditions[0].source.code is None
    c2 = condition("d", "xyz", system="http://local.example/codes")
    c2["code"] = {"text": "Chronic rhinosinusitis without nasal polyps"}
    assert run(c2).conditions == ()


def test_unverified_snomed_code_is_not_used():
    # 40178009 'chronic urticaria' is unverified: not read as CSU (and its text does not name CSU either)
    f = run(condition("c", "40178009", display="Chronic urticaria"))
    assert f.conditions == ()
    f = run(condition("n", "52756005", display="Nasal polyp"))  # verified (5-Minute Clinical Consult)
    assert [(x.concept, x.source.code) for x in f.conditions] == [("nasal-polyps", f"{SNOMED}|52756005")]


# ----------------------------------------------------------------------------------- medications
def test_medication_by_rxnorm_name_and_brand():
    f = run(med_request("m1", rxnorm="3008", text="cycloSPORINE 100 MG Oral Capsule"),
            med_request("m2", text="Singulair 10 mg tablet"),
            med_request("m3", text="ZYRTEC 10 mg", status="completed", authored="2023-01-01"),
            med_request("m4", text="atorvastatin 20 mg"))
    by = {m.agent: m for m in f.medications}
    assert set(by) == {"cyclosporine", "montelukast", "cetirizine"}
    assert by["cyclosporine"].source.code == f"{RXNORM}|3008" and by["cyclosporine"].is_active
    assert by["montelukast"].drug_class == "leukotriene-modifier" and by["montelukast"].source.code is None
    assert by["cetirizine"].status == "completed" and not by["cetirizine"].is_active
    assert by["cetirizine"].start == date(2023, 1, 1)


def test_unverified_rxcui_matches_input():
    f = run(med_request("m", rxnorm="1720597"))
    assert [m.agent for m in f.medications] == ["mepolizumab"]


def test_medication_reference_contained():
    contained = [{"resourceType": "Medication", "id": "med1",
                  "code": {"coding": [{"system": RXNORM, "code": "302379", "display": "omalizumab"}]}}]
    f = run(med_request("m", reference="#med1", contained=contained))
    assert [m.agent for m in f.medications] == ["omalizumab"]


def test_medication_reference_in_bundle_by_id_and_full_url():
    med = {"resourceType": "Medication", "id": "nucala", "code": {"text": "Nucala 100 mg/mL"}}
    f = run(med_request("m1", reference="Medication/nucala"), med)
    assert [m.agent for m in f.medications] == ["mepolizumab"]
    f = run(med_request("m2", reference="http://ehr.example/fhir/Medication/nucala"), med, full_urls=True)
    assert [m.agent for m in f.medications] == ["mepolizumab"]


def test_medication_reference_from_the_fhir_server():
    calls = []

    def resolver(ref):
        calls.append(ref)
        return {"resourceType": "Medication", "id": "x", "code": {"text": "Fasenra 30 mg/mL"}}

    f = run(med_request("m", reference="Medication/x"), resolve_reference=resolver)
    assert calls == ["Medication/x"]
    assert [(m.agent, m.drug_class) for m in f.medications] == [("benralizumab", "anti-il5r")]


def test_medication_reference_resolver_failure_degrades():
    def resolver(ref):
        raise TimeoutError("slow server")

    f = run(med_request("m", reference="Medication/x"), resolve_reference=resolver)
    assert f.medications == ()
    assert any("could not fetch Medication/x" in i.problem for i in f.issues)


def test_medication_statuses():
    f = run(med_request("a", text="montelukast", status="entered-in-error"),
            med_request("b", text="montelukast", status="cancelled"),
            med_statement("c", text="montelukast", status="not-taken"),
            med_statement("d", text="zileuton", status="active", start="2025-01-01"),
            med_statement("e", text="Neoral", status="stopped", start="2020-01-01", end="2021-01-01"))
    by = {m.source.resource_id: m for m in f.medications}
    assert set(by) == {"d", "e"}
    assert by["d"].is_active and by["d"].start == date(2025, 1, 1)
    assert not by["e"].is_active and by["e"].end == date(2021, 1, 1) and by["e"].agent == "cyclosporine"


def test_ophthalmic_cyclosporine_is_not_systemic_cyclosporine():
    f = run(med_request("m", rxnorm="3008", text="cyclosporine 0.05 % Ophthalmic Emulsion"))
    assert f.medications == ()


def test_combination_product_gives_each_agent():
    f = run(med_request("m", text="montelukast 10 mg / levocetirizine 5 mg tablet"))
    assert {m.agent for m in f.medications} == {"montelukast", "levocetirizine"}


# ------------------------------------------------------------------------------------- allergies
def test_aspirin_reaction_with_bronchospasm_is_aerd_relevant():
    f = run(allergy("a1", "Aspirin", manifestations=["Bronchospasm", "Nasal congestion"], atype="intolerance"),
            allergy("a2", "Ibuprofen", manifestations=["Hives"]),
            allergy("a3", "Peanut", manifestations=["Anaphylaxis"], category="food"),
            allergy("a4", "House dust mite", category="environment"),
            allergy("a5", "Penicillin", category="medication"),
            allergy("a6", "Cat dander", verification="refuted"))
    by = {a.source.resource_id: a for a in f.allergies}
    assert set(by) == {"a1", "a2", "a3", "a4", "a5"}
    assert by["a1"].category == "aspirin-nsaid" and by["a1"].respiratory_reaction and by["a1"].ige_mediated is False
    assert by["a2"].category == "aspirin-nsaid" and not by["a2"].respiratory_reaction
    assert by["a3"].category == "food" and by["a3"].ige_mediated is True
    assert by["a4"].category == "environmental"
    assert by["a5"].category == "medication"
    assert by["a1"].recorded == date(2023, 4, 1)


def test_allergy_coded_as_snomed_food_allergy_disorder():
    f = run(allergy("a", None, code="91930004"))
    assert f.allergies[0].category == "food" and f.allergies[0].substance == "egg"


def test_environment_category_without_an_aeroallergen_is_not_sensitisation():
    f = run(allergy("lat", "Latex", category="environment"),
            allergy("env", "Environmental allergies", category="environment"),
            allergy("grass", "Timothy grass pollen", category="environment"))
    by = {a.source.resource_id: a.category for a in f.allergies}
    assert by == {"lat": "other", "env": "other", "grass": "environmental"}


def test_bullous_pemphigoid_by_snomed():
    f = run(condition("bp", "77090002", display="Bullous pemphigoid"))
    assert [(c.concept, c.source.code) for c in f.conditions] == [("bullous-pemphigoid", f"{SNOMED}|77090002")]
