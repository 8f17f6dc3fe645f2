"""Hand-built decisions for every card topic, and helpers to check suggestion resources."""
from __future__ import annotations

from datetime import date

from clinical_core.decisions import (Citation, Decision, DoseRecommendation, Evidence,
                                     TherapyOption)

US_PI = Citation("Xolair US Prescribing Information, Table 1",
                 "https://www.accessdata.fda.gov/drugsatfda_docs/label/2024/103976s5245lbl.pdf")
GINA = Citation("GINA Difficult-to-treat and Severe Asthma guide 2024, Step 8",
                "https://ginasthma.org/severe-asthma/")
CSU_GUIDE = Citation("EAACI/GA2LEN/EuroGuiDerm/APAAACI urticaria guideline 2022",
                     "https://doi.org/10.1111/all.15090")

# Test double for fhir_mappings.rxnorm_for: the verified ingredient codes of the clinical reference
# (omalizumab 302379, cyclosporine 3008, montelukast 88249); everything else unverified (None).
VERIFIED_RXNORM = {
    "omalizumab": ("302379", "omalizumab"),
    "cyclosporine": ("3008", "cyclosporine"),
    "montelukast": ("88249", "montelukast"),
}


def rxnorm_verified(agent: str):
    return VERIFIED_RXNORM.get(agent)


def rxnorm_all(agent: str):
    """A lookup that knows every agent (to exercise IV/mg/kg and multi-option suggestions)."""
    return {**VERIFIED_RXNORM, "mepolizumab": ("1720597", "mepolizumab"),
            "reslizumab": ("9999991", "reslizumab")}.get(agent)


def table_dose(mg=300, weeks=4, ige=">100-200 IU/mL", weight=">60-70 kg"):
    return DoseRecommendation(mg, weeks, "us-asthma-12plus", "US PI Table 1 (asthma, age >= 12)", "US",
                              US_PI, ige_band=ige, weight_band=weight)


IGE = Evidence("Baseline total IgE", "150 IU/mL", date(2026, 1, 5), "Observation/ige-1",
               original="360 ng/mL")
WEIGHT = Evidence("Body weight", "65 kg", date(2026, 10, 1), "Observation/wt-1")
EOS = Evidence("Blood eosinophils (max 12 months)", "450 /uL", date(2026, 6, 1), "Observation/eos-1")
EGFR = Evidence("eGFR", "25 mL/min/1.73 m2", date(2026, 11, 1), "Observation/egfr-1")

MEPOLIZUMAB = TherapyOption("mepolizumab", "Mepolizumab 100 mg SC every 4 weeks", 100, "mg", 1, 4, "wk",
                            "subcutaneous", note="From age 12; 40 mg for ages 6-11.")
RESLIZUMAB = TherapyOption("reslizumab", "Reslizumab 3 mg/kg IV every 4 weeks", 3, "mg/kg", 1, 4, "wk",
                           "intravenous", note="Age 18 and over; boxed warning: anaphylaxis.")
BENRALIZUMAB = TherapyOption("benralizumab", "Benralizumab 30 mg SC every 4 weeks x3, then every 8 weeks",
                             note="Loading schedule cannot be coded; order from the formulary.")
MONTELUKAST = TherapyOption("montelukast", "Montelukast 10 mg by mouth once daily", 10, "mg", 1, 1, "d",
                            "oral")
OMALIZUMAB_CSU = TherapyOption("omalizumab", "Omalizumab 300 mg SC every 4 weeks", 300, "mg", 1, 4, "wk",
                               "subcutaneous")


def decision(topic: str, **overrides) -> Decision:
    """A realistic decision for `topic`; keyword overrides replace fields."""
    base: dict = {
        "omalizumab-dose": dict(
            indicator="info",
            headline="Omalizumab 300 mg SC every 4 weeks (US Table 1: IgE >100-200 IU/mL, >60-70 kg)",
            rationale="Allergic asthma: sensitised to house dust mite, baseline IgE and weight in the table.",
            citation=US_PI, evidence=(IGE, WEIGHT), rule="US PI Table 1, IgE >100-200 row, >60-70 kg column",
            dose=table_dose(), covers=("allergic-asthma",)),
        "omalizumab-dose-mismatch": dict(
            indicator="warning",
            headline="Drafted omalizumab 150 mg every 4 weeks differs from the table: 300 mg every 4 weeks",
            rationale="The US table gives 300 mg every 4 weeks for this IgE and weight.",
            citation=US_PI, evidence=(IGE, WEIGHT), rule="US PI Table 1, IgE >100-200 row, >60-70 kg column",
            dose=table_dose(), order_reference="MedicationRequest/draft-oma"),
        "omalizumab-not-dosable": dict(
            indicator="warning",
            headline="Omalizumab fits, but IgE 850 IU/mL is above the US table limit (700 IU/mL): no dose",
            rationale="The label gives insufficient data to recommend a dose outside the table.",
            citation=US_PI, evidence=(Evidence("Baseline total IgE", "850 IU/mL", date(2026, 1, 5),
                                               "Observation/ige-2"),),
            rule="US PI Table 1 limits: IgE 30-700 IU/mL, weight 30-150 kg"),
        "omalizumab-not-preferred": dict(
            indicator="warning",
            headline="Omalizumab is not the right tool: eosinophilic, non-allergic asthma",
            rationale="No sensitisation and eosinophils 450/uL: IL-5 drives this asthma, not IgE.",
            citation=GINA, evidence=(EOS,), alternatives=(MEPOLIZUMAB, BENRALIZUMAB),
            order_reference="MedicationRequest/draft-oma"),
        "anti-il5-recommended": dict(
            indicator="info", headline="Anti-IL-5/5R fits: eosinophils 450/uL in the last 12 months",
            rationale="Eosinophilic phenotype without allergic sensitisation.", citation=GINA,
            evidence=(EOS,), alternatives=(MEPOLIZUMAB, RESLIZUMAB, BENRALIZUMAB)),
        "leukotriene-modifier-recommended": dict(
            indicator="info",
            headline="AERD: a leukotriene modifier fits; refer for aspirin desensitisation",
            rationale="Asthma, nasal polyps and bronchospasm after aspirin.",
            citation=Citation("AERD review", "https://www.aaaai.org/aerd"),
            alternatives=(MONTELUKAST,)),
        "cyclosporine-unsafe": dict(
            indicator="critical",
            headline="Cyclosporine with eGFR 25: avoid; omalizumab 300 mg every 4 weeks is the safer CSU step",
            rationale="Cyclosporine is nephrotoxic and raises blood pressure; omalizumab is not renally "
                      "cleared and has no blood-pressure effect.",
            citation=CSU_GUIDE, evidence=(EGFR,), alternatives=(OMALIZUMAB_CSU,),
            cautions=("eGFR threshold is product policy, not label text.",),
            order_reference="MedicationRequest/draft-cyc"),
        "food-allergy-omalizumab": dict(
            indicator="info",
            headline="Peanut allergy: omalizumab is labelled from age 1 (US Table 4, not verified: no dose)",
            rationale="As an oral immunotherapy adjunct it is off-label.",
            citation=Citation("Xolair US PI 1.3", "https://www.xolair.com/food-allergy")),
        "pemphigoid-itch-off-label": dict(
            indicator="info",
            headline="Bullous pemphigoid itch: off-label omalizumab helped in case series; specialist decision",
            rationale="No labelled dose.", citation=Citation("Case series", "https://pubmed.ncbi.nlm.nih.gov/")),
        "data-needed": dict(
            indicator="info", headline="Measure total IgE and a perennial aeroallergen test to decide",
            rationale="No baseline total IgE on file.", citation=US_PI,
            missing=("Total IgE (IU/mL)", "Specific IgE or skin-prick test to a perennial aeroallergen")),
        "data-unavailable": dict(
            indicator="warning", headline="FHIR server timed out: laboratory results missing, answer partial",
            rationale="The totalIge and eosinophils prefetch could not be fetched.", citation=US_PI,
            missing=("totalIge", "eosinophils")),
    }[topic]
    base.update(overrides)
    return Decision(topic=topic, **base)


def omalizumab_draft(**overrides) -> dict:
    draft = {
        "resourceType": "MedicationRequest",
        "id": "draft-oma",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "requester": {"reference": "Practitioner/dr1"},
        "medicationReference": {"reference": "Medication/xolair-150"},
        "dosageInstruction": [{
            "text": "150 mg SC every 4 weeks",
            "route": {"coding": [{"system": "http://snomed.info/sct", "code": "34206005"}]},
            "timing": {"repeat": {"boundsPeriod": {"start": "2026-12-01"}, "frequency": 1, "period": 4,
                                  "periodUnit": "wk"}, "code": {"text": "Q4W"}},
            "doseAndRate": [{"doseQuantity": {"value": 150, "unit": "mg",
                                              "system": "http://unitsofmeasure.org", "code": "mg"}}],
        }],
        "note": [{"text": "keep me"}],
    }
    draft.update(overrides)
    return draft


def cyclosporine_draft() -> dict:
    return {
        "resourceType": "MedicationRequest", "id": "draft-cyc", "status": "draft", "intent": "original-order",
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                  "code": "3008"}], "text": "Cyclosporine"},
    }

