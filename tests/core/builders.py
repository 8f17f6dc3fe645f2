"""Hand-built PatientFacts for the clinical-core tests: realistic SourceRefs, dates and units."""
from __future__ import annotations

from datetime import date, datetime, timezone

from clinical_core.facts import (AllergyFact, BloodPressure, ConditionFact, DraftOrder, IgeBaseline, Measurement,
                                 MedicationFact, PatientFacts, SourceRef, SpecificIge)

TODAY = date(2026, 11, 22)
LOINC = {
    "total-ige": "http://loinc.org|19113-0", "weight": "http://loinc.org|29463-7", "eosinophils": "http://loinc.org|26449-9",
    "lte4": "http://loinc.org|33343-5", "egfr": "http://loinc.org|98979-8", "specific-ige": "http://loinc.org|6096-2",
    "systolic": "http://loinc.org|8480-6", "diastolic": "http://loinc.org|8462-4",
}
UNITS = {"total-ige": "[IU]/mL", "weight": "kg", "eosinophils": "/uL", "lte4": "pg/mg{creat}",
         "egfr": "mL/min/{1.73_m2}", "specific-ige": "k[IU]/L", "systolic": "mm[Hg]", "diastolic": "mm[Hg]"}
SNOMED = {
    "asthma": ("195967001", "Asthma"), "allergic-asthma": ("389145006", "Allergic asthma"),
    "eosinophilic-asthma": ("367542003", "Eosinophilic asthma"), "csu": ("302162004", "Chronic idiopathic urticaria"),
    "nasal-polyps": ("52756005", "Nasal polyp"), "aerd": ("407674008", "Aspirin-induced asthma"),
    "food-allergy": ("414285001", "Allergy to food"), "bullous-pemphigoid": ("77090002", "Bullous pemphigoid"),
    "ckd": ("709044004", "Chronic kidney disease"), "hypertension": ("59621000", "Essential hypertension"),
}


def when(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 9, 30, tzinfo=timezone.utc)


def meas(kind: str, value: float, *, rid: str | None = None, on: date = date(2026, 10, 1), comparator=None,
         original: tuple[float, str] | None = None) -> Measurement:
    return Measurement(kind=kind, value=value, unit=UNITS[kind], when=when(on),
                       source=SourceRef("Observation", rid or f"{kind}-1", LOINC[kind]), comparator=comparator,
                       original_value=original[0] if original else None, original_unit=original[1] if original else None,
                       status="final")


def ige(value: float, *, status="newest-no-omalizumab", comparator=None, on=date(2026, 6, 1), excluded=()):
    return IgeBaseline(status, meas("total-ige", value, rid="ige-1", on=on, comparator=comparator),
                       excluded=tuple(excluded))


def cond(concept: str, rid: str | None = None) -> ConditionFact:
    code, display = SNOMED[concept]
    return ConditionFact(concept, display, SourceRef("Condition", rid or f"cond-{concept}",
                                                     f"http://snomed.info/sct|{code}", display),
                         onset=date(2019, 3, 1))


def med(agent: str, drug_class: str, *, active=True, start=date(2025, 1, 10), rid=None, text="") -> MedicationFact:
    return MedicationFact(agent, drug_class, "active" if active else "stopped", active,
                          SourceRef("MedicationRequest", rid or f"med-{agent}"), text=text or agent, start=start)


def mite_sige(value: float, comparator=None) -> SpecificIge:
    return SpecificIge("D. pteronyssinus", "perennial-aeroallergen",
                       meas("specific-ige", value, rid="sige-d1", comparator=comparator))


def bp(sys_: float, dia: float, on: date, rid: str) -> BloodPressure:
    src = SourceRef("Observation", rid, "http://loinc.org|85354-9")
    return BloodPressure(Measurement("systolic", sys_, "mm[Hg]", when(on), src),
                         Measurement("diastolic", dia, "mm[Hg]", when(on), src), when(on), src)


def patient(**kw) -> PatientFacts:
    kw.setdefault("patient_id", "p1")
    kw.setdefault("evaluation_date", TODAY)
    if kw.get("age_years") is not None and "birth_date" not in kw:
        kw["birth_date"] = date(TODAY.year - kw["age_years"], 1, 1)
    return PatientFacts(**kw)


def allergic_asthma(*, age=30, ige_value=150.0, weight=65.0, eos=None, eos_max=None, extra_conditions=(),
                    **kw) -> PatientFacts:
    """Asthma + house dust mite sensitisation (sIgE 3.2 kU/L), the usual allergic-asthma chart."""
    return patient(
        age_years=age,
        total_ige=ige(ige_value) if ige_value is not None else IgeBaseline("missing", None),
        weight=meas("weight", weight, rid="wt-1", on=date(2026, 11, 1)) if weight is not None else None,
        eosinophils_latest=meas("eosinophils", eos, rid="eos-1") if eos is not None else None,
        eosinophils_max_12m=meas("eosinophils", eos_max if eos_max is not None else eos, rid="eos-max")
        if (eos is not None or eos_max is not None) else None,
        conditions=(cond("asthma"),) + tuple(cond(c) for c in extra_conditions),
        specific_ige=(mite_sige(3.2),),
        **kw,
    )


def draft(agent: str, dose=None, unit="mg", weeks=None, *, rid="draft-1", selected=True, drug_class=None,
          route="subcutaneous") -> DraftOrder:
    return DraftOrder(reference=f"MedicationRequest/{rid}", agent=agent, drug_class=drug_class, text=agent,
                      selected=selected, intent="order", dose_value=dose, dose_unit=unit if dose is not None else None,
                      interval_weeks=weeks, route=route)


def allergy(category: str, substance: str, *, respiratory=False, ige_mediated=None, rid=None) -> AllergyFact:
    return AllergyFact(category, substance, SourceRef("AllergyIntolerance", rid or f"ai-{substance}"),
                       respiratory_reaction=respiratory, ige_mediated=ige_mediated, recorded=date(2020, 5, 1))
