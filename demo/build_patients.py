"""Generator of the demo patient bundles in `demo/patients/` (run: `python -m demo.build_patients`).

Why a generator: twelve US Core-shaped bundles written by hand drift apart (a typo in a LOINC system, a
unit without its UCUM code). Every clinical value and code is written once, here, next to the scenario
it serves; the JSON files are its reviewed output and a test checks they are up to date.

Dates are absolute and anchored at ANCHOR (2026-11-01); `demo.patients.load` shifts every date by
(today - ANCHOR) at load time so the data stays recent. Codes come only from
../shared/docs/clinical-reference.md (its Part 2 verification pass wins): e.g. chronic idiopathic
urticaria SNOMED 302162004, D. pteronyssinus sIgE LOINC 6096-2, peanut sIgE 6206-7. Where the reference
has no verified code (substances, reactions, inhaled steroids, nasal polyp SNOMED) the resource carries
text only, as many EHR feeds do.
"""
from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ANCHOR = "2026-11-01"
PATIENTS_DIR = Path(__file__).with_name("patients")

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SCT = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
COND_CAT = "http://terminology.hl7.org/CodeSystem/condition-category"
COND_CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
AI_CLIN = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
AI_VER = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
NS = uuid.UUID("6f3c0f0e-2f7a-4c55-9a53-6a1d0c1d2b61")  # fixed namespace: fullUrls stay stable

# LOINC codes used (clinical-reference.md section 4/5 and Part 2 section 4).
IGE_UNITS = ("19113-0", "IgE [Units/volume] in Serum or Plasma")
IGE_MASS = ("2462-0", "IgE [Mass/volume] in Serum")
EOS_ABS_AUTO = ("711-2", "Eosinophils [#/volume] in Blood by Automated count")
EOS_ABS = ("26449-9", "Eosinophils [#/volume] in Blood")
EOS_PCT = ("713-8", "Eosinophils/100 leukocytes in Blood by Automated count")
WBC = ("6690-2", "Leukocytes [#/volume] in Blood by Automated count")
WEIGHT = ("29463-7", "Body weight")
EGFR = ("98979-8", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, "
        "Plasma or Blood by Creatinine-based formula (CKD-EPI 2021)")
CREAT = ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma")
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = ("8480-6", "Systolic blood pressure")
DIASTOLIC = ("8462-4", "Diastolic blood pressure")
LTE4 = ("33343-5", "Leukotriene E4/Creatinine [Mass Ratio] in Urine")
SIGE_DPTER = ("6096-2", "European house dust mite IgE Ab [Units/volume] in Serum")
SIGE_DFAR = ("6095-4", "American house dust mite IgE Ab [Units/volume] in Serum")
SIGE_PEANUT = ("6206-7", "Peanut IgE Ab [Units/volume] in Serum")
SIGE_EGG = ("6106-9", "Egg white IgE Ab [Units/volume] in Serum")

# SNOMED CT / ICD-10-CM (clinical-reference.md Part 2 section 3, Part 1 section 5).
ASTHMA = ((SCT, "195967001", "Asthma"),)
ALLERGIC_ASTHMA = ((SCT, "389145006", "Allergic asthma"),)
SEVERE_PERSISTENT = ((SCT, "426656000", "Severe persistent asthma"),
                     (ICD10CM, "J45.50", "Severe persistent asthma, uncomplicated"))
EOS_ASTHMA = ((SCT, "367542003", "Eosinophilic asthma"), (ICD10CM, "J82.83", "Eosinophilic asthma"))
CIU = ((SCT, "302162004", "Chronic idiopathic urticaria"), (ICD10CM, "L50.1", "Idiopathic urticaria"))
ASPIRIN_ASTHMA = ((SCT, "407674008", "Aspirin-induced asthma"),)
NASAL_POLYPS = ((ICD10CM, "J33.9", "Nasal polyp, unspecified"),)
CKD = ((SCT, "709044004", "Chronic kidney disease"),
       (ICD10CM, "N18.32", "Chronic kidney disease, stage 3b"))
HTN = ((SCT, "59621000", "Essential hypertension"),
       (ICD10CM, "I10", "Essential (primary) hypertension"))
PEANUT_ALLERGY = ((SCT, "91935009", "Allergy to peanut"), (ICD10CM, "Z91.010", "Allergy to peanuts"))
PEMPHIGOID = ((SCT, "77090002", "Bullous pemphigoid"), (ICD10CM, "L12.0", "Bullous pemphigoid"))

# RxNorm ingredients (clinical-reference.md Part 2 section 2); product text carries the brand.
OMALIZUMAB = (RXNORM, "302379", "omalizumab")
CYCLOSPORINE = (RXNORM, "3008", "cyclosporine")
MEPOLIZUMAB = (RXNORM, "1720597", "mepolizumab")
CETIRIZINE = (RXNORM, "20610", "cetirizine")


def _cc(codings: tuple, text: str | None = None) -> dict:
    out: dict[str, Any] = {"coding": [{"system": s, "code": c, "display": d} for s, c, d in codings]}
    out["text"] = text or codings[0][2]
    return out


def _qty(value: float, unit: str, code: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


class PatientBuilder:
    """Collects the resources of one demo patient; ids are `<prefix>-<kind>-<n>` so reads are unique."""

    def __init__(self, slug: str, prefix: str):
        self.slug = slug
        self.prefix = prefix
        self.patient_id = f"demo-{slug}"
        self.resources: list[dict] = []
        self._n: Counter[str] = Counter()

    def _id(self, kind: str) -> str:
        self._n[kind] += 1
        return f"{self.prefix}-{kind}-{self._n[kind]}"

    @property
    def subject(self) -> dict:
        return {"reference": f"Patient/{self.patient_id}"}

    def add(self, resource: dict) -> dict:
        self.resources.append(resource)
        return resource

    def patient(self, *, family: str, given: str, gender: str, birth_date: str, mrn: str) -> None:
        self.add({
            "resourceType": "Patient", "id": self.patient_id,
            "meta": {"profile": [US_CORE + "us-core-patient"]},
            "identifier": [{
                "use": "usual",
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                     "code": "MR", "display": "Medical Record Number"}]},
                "system": "urn:oid:2.16.840.1.113883.19.5.99999.1", "value": mrn}],
            "active": True,
            "name": [{"use": "official", "family": family, "given": [given],
                      "text": f"{given} {family} (demo)"}],
            "gender": gender, "birthDate": birth_date,
        })

    def _obs(self, kind: str, category: str, code: tuple[str, str], when: str, profile: str,
             **body: Any) -> dict:
        res = {
            "resourceType": "Observation", "id": self._id(kind),
            "meta": {"profile": [US_CORE + profile]},
            "status": "final",
            "category": [{"coding": [{"system": OBS_CAT, "code": category,
                                      "display": "Laboratory" if category == "laboratory"
                                      else "Vital Signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": code[0], "display": code[1]}],
                     "text": code[1]},
            "subject": self.subject,
            "effectiveDateTime": when,
        }
        if category == "laboratory":
            res["issued"] = when[:10] + "T17:45:00-05:00"
        res.update(body)
        return self.add(res)

    def lab(self, code: tuple[str, str], value: float, unit: str, ucum: str, when: str, *,
            kind: str = "lab", low: float | None = None, high: float | None = None,
            text: str | None = None) -> dict:
        body: dict[str, Any] = {"valueQuantity": _qty(value, unit, ucum)}
        if low is not None or high is not None:
            rng: dict[str, Any] = {}
            if low is not None:
                rng["low"] = _qty(low, unit, ucum)
            if high is not None:
                rng["high"] = _qty(high, unit, ucum)
            body["referenceRange"] = [rng]
        obs = self._obs(kind, "laboratory", code, when, "us-core-observation-lab", **body)
        if text:
            obs["code"]["text"] = text
        return obs

    def total_ige(self, value: float, unit: str, ucum: str, when: str) -> dict:
        code = IGE_MASS if ucum in ("ng/mL", "ug/L") else IGE_UNITS
        high = 240.0 if code is IGE_MASS else 100.0
        return self.lab(code, value, unit, ucum, when, kind="ige", high=high, text="IgE, total")

    def specific_ige(self, code: tuple[str, str], value: float, when: str) -> dict:
        return self.lab(code, value, "kU/L", "k[IU]/L", when, kind="sige", high=0.35)

    def eos_absolute(self, value: float, unit: str, ucum: str, when: str,
                     code: tuple[str, str] = EOS_ABS_AUTO) -> dict:
        return self.lab(code, value, unit, ucum, when, kind="eos")

    def eos_percent_with_wbc(self, pct: float, wbc: float, when: str) -> None:
        """A differential reported as %: the WBC of the same draw (same effective time) gives the count."""
        self.lab(EOS_PCT, pct, "%", "%", when, kind="eos", low=0.0, high=7.0)
        self.lab(WBC, wbc, "10*3/uL", "10*3/uL", when, kind="wbc", low=4.0, high=11.0)

    def weight(self, value: float, when: str, *, unit: str = "kg") -> dict:
        ucum = {"kg": "kg", "lb": "[lb_av]"}[unit]
        return self._obs("wt", "vital-signs", WEIGHT, when, "us-core-body-weight",
                         valueQuantity=_qty(value, unit, ucum))

    def blood_pressure(self, systolic: int, diastolic: int, when: str) -> dict:
        comp = [{"code": {"coding": [{"system": LOINC, "code": c[0], "display": c[1]}]},
                 "valueQuantity": _qty(v, "mmHg", "mm[Hg]")}
                for c, v in ((SYSTOLIC, systolic), (DIASTOLIC, diastolic))]
        return self._obs("bp", "vital-signs", BP_PANEL, when, "us-core-blood-pressure", component=comp)

    def egfr(self, value: float, when: str) -> dict:
        return self.lab(EGFR, value, "mL/min/1.73m2", "mL/min/{1.73_m2}", when, kind="egfr", low=60.0)

    def condition(self, codings: tuple, *, onset: str, recorded: str, text: str | None = None,
                  clinical: str = "active", verification: str = "confirmed",
                  category: str = "problem-list-item") -> dict:
        return self.add({
            "resourceType": "Condition", "id": self._id("cond"),
            "meta": {"profile": [US_CORE + "us-core-condition-problems-health-concerns"]},
            "clinicalStatus": {"coding": [{"system": COND_CLIN, "code": clinical}]},
            "verificationStatus": {"coding": [{"system": COND_VER, "code": verification}]},
            "category": [{"coding": [{"system": COND_CAT, "code": category}]}],
            "code": _cc(codings, text),
            "subject": self.subject,
            "onsetDateTime": onset, "recordedDate": recorded,
        })

    def med_request(self, med: tuple | None, text: str, *, authored: str, status: str = "active",
                    dose: tuple[float, str, str] | None = None, period: tuple[int, str] | None = None,
                    frequency: int = 1, route: str | None = None, sig: str,
                    bounds_start: str | None = None, bounds_end: str | None = None) -> dict:
        return self.add(medication_request(
            self._id("medrx"), self.subject, med, text, authored=authored, status=status, dose=dose,
            period=period, frequency=frequency, route=route, sig=sig, bounds_start=bounds_start,
            bounds_end=bounds_end, intent="order"))

    def med_statement(self, med: tuple | None, text: str, *, start: str, end: str | None = None,
                      status: str = "active", asserted: str) -> dict:
        period = {"start": start} | ({"end": end} if end else {})
        return self.add({
            "resourceType": "MedicationStatement", "id": self._id("medst"),
            "status": status,
            "medicationCodeableConcept": _med_cc(med, text),
            "subject": self.subject,
            "effectivePeriod": period, "dateAsserted": asserted,
        })

    def allergy(self, *, category: str, text: str, recorded: str, type_: str = "allergy",
                criticality: str = "low", manifestations: tuple[str, ...] = (),
                severity: str | None = None, codings: tuple = ()) -> dict:
        res: dict[str, Any] = {
            "resourceType": "AllergyIntolerance", "id": self._id("alg"),
            "meta": {"profile": [US_CORE + "us-core-allergyintolerance"]},
            "clinicalStatus": {"coding": [{"system": AI_CLIN, "code": "active"}]},
            "verificationStatus": {"coding": [{"system": AI_VER, "code": "confirmed"}]},
            "type": type_, "category": [category], "criticality": criticality,
            "code": _cc(codings, text) if codings else {"text": text},
            "patient": self.subject, "recordedDate": recorded,
        }
        if manifestations:
            reaction: dict[str, Any] = {"manifestation": [{"text": m} for m in manifestations]}
            if severity:
                reaction["severity"] = severity
            res["reaction"] = [reaction]
        return self.add(res)

    def bundle(self) -> dict:
        return {
            "resourceType": "Bundle", "id": f"demo-bundle-{self.slug}", "type": "collection",
            "entry": [{"fullUrl": "urn:uuid:" + str(uuid.uuid5(NS, f"{r['resourceType']}/{r['id']}")),
                       "resource": r} for r in self.resources],
        }


def _med_cc(med: tuple | None, text: str) -> dict:
    if med is None:
        return {"text": text}
    return {"coding": [{"system": med[0], "code": med[1], "display": med[2]}], "text": text}


def medication_request(rid: str, subject: dict, med: tuple | None, text: str, *, authored: str,
                       status: str, intent: str, sig: str, dose: tuple[float, str, str] | None = None,
                       period: tuple[int, str] | None = None, frequency: int = 1,
                       route: str | None = None, bounds_start: str | None = None,
                       bounds_end: str | None = None) -> dict:
    """A US Core-shaped MedicationRequest; also used for the order-hook drafts."""
    dosage: dict[str, Any] = {"text": sig}
    if period:
        repeat: dict[str, Any] = {"frequency": frequency, "period": period[0], "periodUnit": period[1]}
        if bounds_start:
            repeat["boundsPeriod"] = {"start": bounds_start} | ({"end": bounds_end} if bounds_end else {})
        dosage["timing"] = {"repeat": repeat}
    if route == "IH":  # no verified SNOMED route code for inhalation in this project: text only
        dosage["route"] = {"text": "Inhalation"}
    elif route:
        # SNOMED CT route codes as verified in fhir_mappings/data/codesets/routes.json (FHIR route-codes value set).
        routes = {"SC": ("34206005", "Subcutaneous route"), "PO": ("26643006", "Oral route")}
        dosage["route"] = {"coding": [{"system": SCT, "code": routes[route][0],
                                       "display": routes[route][1]}], "text": routes[route][1]}
    if dose:
        dosage["doseAndRate"] = [{"doseQuantity": _qty(*dose)}]
    return {
        "resourceType": "MedicationRequest", "id": rid,
        "meta": {"profile": [US_CORE + "us-core-medicationrequest"]},
        "status": status, "intent": intent,
        "medicationCodeableConcept": _med_cc(med, text),
        "subject": subject, "authoredOn": authored,
        "requester": {"reference": "Practitioner/demo-practitioner", "display": "Dr Demo Prescriber"},
        "dosageInstruction": [dosage],
    }


ICS_LABA = "fluticasone propionate/salmeterol 500/50 mcg inhalation powder (Advair Diskus)"
ICS_FORM = "budesonide/formoterol 160/4.5 mcg inhaler (Symbicort), 2 puffs twice daily"
SABA = "albuterol 90 mcg/actuation inhaler (ProAir HFA), as needed"


def build_all() -> tuple[dict[str, dict], list[dict]]:
    """Return ({slug: bundle}, index entries). The index says what the service is expected to answer."""
    bundles: dict[str, dict] = {}
    index: list[dict] = []

    def done(b: PatientBuilder, entry: dict) -> None:
        bundles[b.slug] = b.bundle()
        index.append({"slug": b.slug, "patientId": b.patient_id, "file": f"{b.slug}.json"} | entry)

    def asthma_meds(b: PatientBuilder, since: str) -> None:
        b.med_request(None, ICS_LABA, authored=since, route="IH", sig="1 inhalation twice daily")
        b.med_request(None, SABA, authored=since, route="IH", sig="2 puffs every 4-6 h as needed")

    # Resources several scenarios share, written once so their codes and texts cannot drift apart.
    def severe_allergic_asthma(b: PatientBuilder, *, onset: str, recorded: str) -> None:
        b.condition(ALLERGIC_ASTHMA + SEVERE_PERSISTENT[1:], onset=onset, recorded=recorded,
                    text="Severe persistent allergic asthma")

    def csu(b: PatientBuilder, *, onset: str, recorded: str) -> None:
        b.condition(CIU, onset=onset, recorded=recorded,
                    text="Chronic spontaneous urticaria (chronic idiopathic urticaria)")

    def cetirizine_updosed(b: PatientBuilder, *, authored: str) -> None:
        b.med_request(CETIRIZINE, "cetirizine 10 mg tablet (Zyrtec), 2 tablets daily", authored=authored,
                      route="PO", dose=(20, "mg", "mg"), period=(1, "d"), sig="20 mg once daily (updosed)")

    # 1. Severe allergic asthma, adult: IgE 150 IU/mL (newest), 75 kg -> US Table 1 300 mg q4w.
    b = PatientBuilder("allergic-asthma-adult", "aaa")
    b.patient(family="Rivera", given="Ana", gender="female", birth_date="1984-05-12", mrn="DEMO-1001")
    severe_allergic_asthma(b, onset="2009-03-01", recorded="2019-06-04")
    b.allergy(category="environment", text="House dust mite (Dermatophagoides pteronyssinus)",
              recorded="2019-06-04", manifestations=("Rhinitis", "Wheezing"), severity="moderate")
    b.specific_ige(SIGE_DPTER, 12.4, "2026-09-15T08:20:00-05:00")
    b.specific_ige(SIGE_DFAR, 8.9, "2026-09-15T08:20:00-05:00")
    b.total_ige(290, "ng/mL", "ng/mL", "2024-06-03T09:10:00-05:00")      # = 119.8 IU/mL
    b.total_ige(132, "kU/L", "k[IU]/L", "2025-03-18T08:40:00-05:00")
    b.total_ige(150, "IU/mL", "[IU]/mL", "2026-09-15T08:20:00-05:00")
    b.weight(74.2, "2026-04-02T10:00:00-05:00")
    b.weight(75, "2026-10-20T09:30:00-05:00")
    b.eos_percent_with_wbc(2.0, 6.5, "2026-04-02T09:45:00-05:00")      # = 130 /uL
    b.eos_absolute(0.12, "10*3/uL", "10*3/uL", "2026-09-15T08:20:00-05:00")  # = 120 /uL
    b.blood_pressure(122, 78, "2026-10-20T09:30:00-05:00")
    asthma_meds(b, "2024-01-10")
    done(b, {"scenario": 1, "title": "Severe allergic asthma, adult (42 y)",
             "summary": "Sensitised to house dust mite; baseline total IgE 150 IU/mL (newest; older "
                        "results 132 kU/L and 290 ng/mL = 119.8 IU/mL); weight 75 kg; eosinophils "
                        "120-130/uL.",
             "expected": {
                 "patient-view": {"must": ["omalizumab-dose"], "may": []},
                 "order-select": {"draft": "draft-omalizumab-150mg-q4w",
                                  "must": ["omalizumab-dose-mismatch"], "may": ["omalizumab-dose"]},
                 "order-sign": {"draft": "draft-omalizumab-300mg-q4w",
                                "must": [], "may": ["omalizumab-dose"]}},
             "dose": {"mg": 300, "intervalWeeks": 4,
                      "rule": "US PI Table 1 (asthma >= 12 y), IgE row >100-200 IU/mL, weight column "
                              ">70-90 kg"}})

    # 2. Eosinophilic, non-allergic severe asthma.
    b = PatientBuilder("eosinophilic-asthma", "eos")
    b.patient(family="Okafor", given="Daniel", gender="male", birth_date="1971-02-23", mrn="DEMO-1002")
    b.condition(EOS_ASTHMA, onset="2018-09-01", recorded="2021-01-15", text="Eosinophilic asthma")
    b.condition(SEVERE_PERSISTENT, onset="2018-09-01", recorded="2021-01-15")
    b.condition(ALLERGIC_ASTHMA, onset="2018-09-01", recorded="2018-10-02", clinical="inactive",
                verification="refuted", text="Allergic asthma (refuted: negative sIgE panel)")
    b.allergy(category="medication", text="Penicillin", recorded="1995-01-01", type_="allergy",
              manifestations=("Rash",), severity="mild")
    b.specific_ige(SIGE_DPTER, 0.10, "2025-11-04T08:05:00-05:00")
    b.specific_ige(SIGE_DFAR, 0.08, "2025-11-04T08:05:00-05:00")
    b.total_ige(22, "IU/mL", "[IU]/mL", "2025-11-04T08:05:00-05:00")
    b.total_ige(45, "ng/mL", "ng/mL", "2024-02-12T08:30:00-05:00")       # = 18.6 IU/mL
    b.eos_percent_with_wbc(6.0, 8.0, "2026-03-10T08:15:00-05:00")      # = 480 /uL
    b.eos_absolute(0.42, "10*9/L", "10*9/L", "2026-10-10T08:00:00-05:00", code=EOS_ABS)  # = 420 /uL
    b.weight(88, "2026-10-10T08:30:00-05:00")
    b.blood_pressure(128, 82, "2026-10-10T08:30:00-05:00")
    b.med_request(None, ICS_FORM, authored="2023-05-01", route="IH", sig="2 puffs twice daily")
    b.med_request(None, "prednisone 10 mg tablet", authored="2026-10-10", route="PO",
                  sig="10 mg daily for 5 days (exacerbation)", status="completed")
    done(b, {"scenario": 2, "title": "Eosinophilic non-allergic severe asthma (55 y)",
             "summary": "Eosinophils 420/uL now (0.42 10*9/L), 480/uL in March (6% of WBC 8.0); total "
                        "IgE 22 IU/mL; house dust mite sIgE < 0.35 kU/L; allergic asthma refuted.",
             "expected": {
                 "patient-view": {"must": ["anti-il5-recommended"], "may": []},
                 "order-select": {"draft": "draft-omalizumab-300mg-q4w",
                                  "must": ["omalizumab-not-preferred"], "may": ["anti-il5-recommended"]},
                 "order-sign": {"draft": "draft-mepolizumab-100mg-q4w", "must": [],
                                "may": ["anti-il5-recommended"]}},
             "dose": None})

    # 3. CSU refractory to H1 antihistamines.
    b = PatientBuilder("csu-refractory", "csu")
    b.patient(family="Lindqvist", given="Maja", gender="female", birth_date="1992-08-30", mrn="DEMO-1003")
    csu(b, onset="2025-12-01", recorded="2026-02-10")
    b.med_request(None, "loratadine 10 mg tablet (Claritin)", authored="2026-02-10", status="stopped",
                  route="PO", sig="10 mg once daily")
    cetirizine_updosed(b, authored="2026-05-20")
    b.total_ige(45, "kU/L", "k[IU]/L", "2026-02-10T10:00:00-05:00")
    b.weight(64, "2026-10-05T10:00:00-05:00")
    b.egfr(104, "2026-10-05T10:00:00-05:00")
    b.blood_pressure(116, 74, "2026-10-05T10:00:00-05:00")
    b.eos_absolute(150, "/uL", "/uL", "2026-10-05T10:00:00-05:00")
    done(b, {"scenario": 3, "title": "Chronic spontaneous urticaria refractory to H1 antihistamine (34 y)",
             "summary": "CSU on updosed cetirizine 20 mg/day (loratadine stopped); IgE 45 kU/L and weight "
                        "64 kg do not change the CSU dose; eGFR 104, BP 116/74.",
             "expected": {
                 "patient-view": {"must": ["omalizumab-dose"], "may": []},
                 "order-select": {"draft": "draft-omalizumab-300mg-q4w", "must": [],
                                  "may": ["omalizumab-dose"]},
                 "order-sign": {"draft": "draft-cyclosporine-150mg-bid", "must": [],
                                "may": ["omalizumab-dose"]}},
             "dose": {"mg": 300, "intervalWeeks": 4,
                      "rule": "CSU fixed dose (US label 150 or 300 mg q4w; 300 mg recommended), "
                              "independent of IgE and weight"}})

    # 4. CSU with CKD 3b and hypertension: cyclosporine unsafe, omalizumab preferred.
    b = PatientBuilder("csu-ckd-hypertension", "ckd")
    b.patient(family="Haddad", given="Samir", gender="male", birth_date="1965-04-04", mrn="DEMO-1004")
    csu(b, onset="2025-06-01", recorded="2025-09-12")
    b.condition(CKD, onset="2022-03-01", recorded="2022-03-15", text="Chronic kidney disease stage 3b")
    b.condition(HTN, onset="2015-01-01", recorded="2015-01-20", text="Essential hypertension")
    cetirizine_updosed(b, authored="2025-10-01")
    b.med_request(None, "amlodipine 10 mg tablet (Norvasc)", authored="2019-03-01", route="PO",
                  sig="10 mg once daily")
    b.med_request(None, "lisinopril 20 mg tablet", authored="2016-06-01", route="PO",
                  sig="20 mg once daily")
    b.egfr(48, "2026-02-03T08:00:00-05:00")
    b.egfr(44, "2026-06-15T08:00:00-05:00")
    b.egfr(41, "2026-10-14T08:00:00-05:00")
    b.lab(CREAT, 1.82, "mg/dL", "mg/dL", "2026-10-14T08:00:00-05:00", kind="creat", low=0.7, high=1.3)
    b.blood_pressure(146, 92, "2026-07-01T09:00:00-05:00")
    b.blood_pressure(152, 96, "2026-09-02T09:00:00-05:00")
    b.blood_pressure(148, 94, "2026-10-14T09:00:00-05:00")
    b.total_ige(88, "IU/mL", "[IU]/mL", "2025-09-12T08:00:00-05:00")
    b.weight(91.5, "2026-10-14T09:00:00-05:00")
    done(b, {"scenario": 4, "title": "CSU with CKD stage 3b and hypertension (61 y)",
             "summary": "CSU on updosed cetirizine; eGFR 48 -> 44 -> 41 mL/min/1.73m2; BP 146/92, 152/96, "
                        "148/94 (persistently >= 140/90); CKD and hypertension on the problem list.",
             "expected": {
                 "patient-view": {"must": ["omalizumab-dose"], "may": ["cyclosporine-unsafe"]},
                 "order-select": {"draft": "draft-cyclosporine-150mg-bid",
                                  "must": ["cyclosporine-unsafe"], "may": ["omalizumab-dose"]},
                 "order-sign": {"draft": "draft-cyclosporine-150mg-bid",
                                "must": ["cyclosporine-unsafe"], "may": ["omalizumab-dose"]}},
             "cyclosporineIndicator": "warning (eGFR 41 is not < 30 and BP 148/94 is not >= 180/110)",
             "dose": {"mg": 300, "intervalWeeks": 4, "rule": "CSU fixed dose"}})

    # 5. Adolescent with allergic asthma and CSU: one omalizumab card from the asthma table.
    b = PatientBuilder("adolescent-asthma-csu", "ado")
    b.patient(family="Nguyen", given="Lily", gender="female", birth_date="2011-03-19", mrn="DEMO-1005")
    severe_allergic_asthma(b, onset="2016-04-01", recorded="2020-09-01")
    csu(b, onset="2026-01-10", recorded="2026-04-22")
    b.specific_ige(SIGE_DFAR, 3.2, "2026-04-22T15:30:00-05:00")
    b.specific_ige(SIGE_DPTER, 4.1, "2026-04-22T15:30:00-05:00")
    b.total_ige(79, "kU/L", "k[IU]/L", "2025-05-06T15:00:00-05:00")
    b.total_ige(85, "IU/mL", "[IU]/mL", "2026-04-22T15:30:00-05:00")
    b.weight(110.0, "2026-04-22T15:10:00-05:00", unit="lb")            # = 49.9 kg
    b.weight(114.6, "2026-10-08T16:00:00-05:00", unit="lb")            # = 52.0 kg
    b.eos_percent_with_wbc(2.0, 6.5, "2026-04-22T15:30:00-05:00")      # = 130 /uL
    b.eos_absolute(0.11, "10*3/uL", "10*3/uL", "2026-10-08T16:00:00-05:00")  # = 110 /uL
    b.med_request(CETIRIZINE, "cetirizine 10 mg tablet (Zyrtec)", authored="2026-04-22", route="PO",
                  dose=(10, "mg", "mg"), period=(1, "d"), sig="10 mg once daily")
    asthma_meds(b, "2021-01-05")
    done(b, {"scenario": 5, "title": "Adolescent (15 y) with allergic asthma and CSU",
             "summary": "Sensitised to house dust mite; baseline IgE 85 IU/mL; weight 114.6 lb = 52.0 kg "
                        "(sent in [lb_av]); CSU on cetirizine.",
             "expected": {
                 "patient-view": {"must": ["omalizumab-dose"], "may": ["data-needed"],
                                  "exactlyOne": "omalizumab-dose"},
                 "order-select": {"draft": "draft-omalizumab-300mg-q4w", "must": [],
                                  "may": ["omalizumab-dose-mismatch", "omalizumab-dose"]},
                 "order-sign": {"draft": "draft-omalizumab-150mg-q4w", "must": [],
                                "may": ["omalizumab-dose"]}},
             "dose": {"mg": 150, "intervalWeeks": 4,
                      "rule": "US PI Table 1, IgE row >=30-100 IU/mL, weight column 30-60 kg; one card "
                              "covering asthma and CSU, noting CSU trials used 300 mg q4w "
                              "(clinician's choice)"}})

    # 6. AERD.
    b = PatientBuilder("aerd", "aerd")
    b.patient(family="Kowalski", given="Ewa", gender="female", birth_date="1979-10-02", mrn="DEMO-1006")
    b.condition(ASTHMA + SEVERE_PERSISTENT[1:], onset="2012-01-01", recorded="2014-05-05",
                text="Severe persistent asthma")
    b.condition(NASAL_POLYPS, onset="2013-06-01", recorded="2014-05-05",
                text="Chronic rhinosinusitis with nasal polyps")
    b.condition(ASPIRIN_ASTHMA, onset="2014-04-20", recorded="2014-05-05",
                text="Aspirin-induced asthma (aspirin-exacerbated respiratory disease)")
    b.allergy(category="medication", text="Aspirin", recorded="2014-05-05", type_="intolerance",
              criticality="high", severity="severe",
              manifestations=("Bronchospasm", "Nasal congestion and rhinorrhoea"))
    b.allergy(category="medication", text="Ibuprofen", recorded="2016-08-11", type_="intolerance",
              criticality="high", severity="moderate", manifestations=("Wheezing",))
    b.lab(LTE4, 310, "pg/mg creat", "pg/mg{creat}", "2026-08-20T09:00:00-05:00", kind="lte4", high=104)
    b.specific_ige(SIGE_DPTER, 0.12, "2026-08-20T09:00:00-05:00")
    b.total_ige(58, "kU/L", "k[IU]/L", "2026-08-20T09:00:00-05:00")
    b.eos_absolute(0.20, "10*9/L", "10*9/L", "2026-02-11T09:00:00-05:00", code=EOS_ABS)  # = 200 /uL
    b.eos_absolute(140, "/uL", "/uL", "2026-08-20T09:00:00-05:00")
    b.weight(70, "2026-08-20T09:10:00-05:00")
    b.med_request(None, ICS_FORM, authored="2020-02-01", route="IH", sig="2 puffs twice daily")
    b.med_request(None, "mometasone furoate 50 mcg nasal spray (Nasonex)", authored="2020-02-01",
                  sig="2 sprays each nostril daily")
    done(b, {"scenario": 6, "title": "Aspirin-exacerbated respiratory disease (47 y)",
             "summary": "Asthma + nasal polyps + bronchospasm with aspirin and ibuprofen; urinary LTE4 "
                        "310 pg/mg creatinine (>= 166); not sensitised (sIgE 0.12 kU/L), IgE 58 kU/L; "
                        "eosinophils 140/uL (200 in February).",
             "expected": {
                 "patient-view": {"must": ["leukotriene-modifier-recommended"], "may": []},
                 "order-select": {"draft": "draft-omalizumab-300mg-q4w",
                                  "must": ["omalizumab-not-preferred"],
                                  "may": ["leukotriene-modifier-recommended"]},
                 "order-sign": {"draft": "draft-omalizumab-300mg-q4w",
                                "must": ["omalizumab-not-preferred"],
                                "may": ["leukotriene-modifier-recommended"]}},
             "dose": None})

    # 7. Nasal polyps (adult): labelled, but the US CRSwNP table (Table 3) is not verified.
    b = PatientBuilder("nasal-polyps", "crs")
    b.patient(family="Brennan", given="Thomas", gender="male", birth_date="1974-07-15", mrn="DEMO-1007")
    b.condition(NASAL_POLYPS, onset="2021-05-01", recorded="2022-01-20",
                text="Chronic rhinosinusitis with nasal polyps")
    b.med_request(None, "mometasone furoate 50 mcg nasal spray (Nasonex)", authored="2022-01-20",
                  sig="2 sprays each nostril twice daily")
    b.total_ige(210, "IU/mL", "[IU]/mL", "2026-09-01T08:30:00-05:00")
    b.total_ige(470, "ng/mL", "ng/mL", "2025-08-14T08:30:00-05:00")      # = 194.2 IU/mL
    b.weight(82, "2026-09-01T08:45:00-05:00")
    b.eos_absolute(250, "/uL", "/uL", "2026-09-01T08:30:00-05:00")
    done(b, {"scenario": 7, "title": "Chronic rhinosinusitis with nasal polyps (52 y)",
             "summary": "Nasal polyps despite nasal corticosteroid; IgE 210 IU/mL; 82 kg; no asthma.",
             "expected": {
                 "patient-view": {"must": ["omalizumab-not-dosable"], "may": []},
                 "order-select": {"draft": "draft-omalizumab-300mg-q4w", "must": ["omalizumab-not-dosable"],
                                  "may": []},
                 "order-sign": {"draft": "draft-omalizumab-300mg-q4w", "must": ["omalizumab-not-dosable"],
                                "may": []}},
             "dose": None,
             "note": "No automated dose: US PI Table 3 (CRSwNP) is not verified; the card names the "
                     "table and the inputs (IgE 210 IU/mL, 82 kg)."})

    # 8. IgE-mediated food allergy (child).
    b = PatientBuilder("food-allergy", "food")
    b.patient(family="Adeyemi", given="Tobi", gender="male", birth_date="2017-01-28", mrn="DEMO-1008")
    b.condition(PEANUT_ALLERGY, onset="2019-02-01", recorded="2019-02-14", text="Peanut allergy")
    b.allergy(category="food", text="Peanut", recorded="2019-02-14", criticality="high",
              severity="severe", manifestations=("Anaphylaxis", "Urticaria"))
    b.specific_ige(SIGE_PEANUT, 48.5, "2026-06-30T11:00:00-05:00")
    b.specific_ige(SIGE_EGG, 0.21, "2026-06-30T11:00:00-05:00")
    b.total_ige(410, "IU/mL", "[IU]/mL", "2026-06-30T11:00:00-05:00")
    b.weight(31, "2026-09-22T11:00:00-05:00")
    b.med_request(None, "epinephrine 0.3 mg/0.3 mL auto-injector (EpiPen)", authored="2026-06-30",
                  sig="0.3 mg IM once for anaphylaxis; may repeat once")
    done(b, {"scenario": 8, "title": "IgE-mediated peanut allergy (9 y)",
             "summary": "Peanut anaphylaxis; peanut sIgE 48.5 kU/L; total IgE 410 IU/mL; 31 kg.",
             "expected": {
                 "patient-view": {"must": ["food-allergy-omalizumab"], "may": ["omalizumab-not-dosable"]},
                 "order-select": {"draft": "draft-omalizumab-300mg-q4w", "must": [],
                                  "may": ["food-allergy-omalizumab", "omalizumab-not-dosable",
                                          "omalizumab-dose-mismatch"]},
                 "order-sign": {"draft": "draft-omalizumab-300mg-q4w", "must": [],
                                "may": ["food-allergy-omalizumab", "omalizumab-not-dosable",
                                        "omalizumab-dose-mismatch"]}},
             "dose": None,
             "note": "Info card: labelled from 1 y (US PI Table 4, not verified: no automated dose); "
                     "as an oral-immunotherapy adjunct it is off-label."})

    # 9. Bullous pemphigoid with itch.
    b = PatientBuilder("bullous-pemphigoid", "bp")
    b.patient(family="Moreau", given="Jeanne", gender="female", birth_date="1948-11-30", mrn="DEMO-1009")
    b.condition(PEMPHIGOID, onset="2026-05-01", recorded="2026-06-12",
                text="Bullous pemphigoid with severe pruritus")
    b.med_request(None, "clobetasol propionate 0.05% cream", authored="2026-06-12",
                  sig="apply to blisters twice daily")
    b.total_ige(820, "IU/mL", "[IU]/mL", "2026-06-12T10:00:00-05:00")
    b.eos_absolute(0.65, "10*3/uL", "10*3/uL", "2026-06-12T10:00:00-05:00")  # = 650 /uL
    b.weight(61, "2026-10-01T10:00:00-05:00")
    b.egfr(68, "2026-06-12T10:00:00-05:00")
    done(b, {"scenario": 9, "title": "Bullous pemphigoid with itch (77 y)",
             "summary": "Bullous pemphigoid, pruritus despite clobetasol; IgE 820 IU/mL; eosinophils "
                        "650/uL (no asthma).",
             "expected": {"patient-view": {"must": ["pemphigoid-itch-off-label"], "may": []}},
             "dose": None})

    # 10. Allergic asthma with IgE above the table (and eosinophilic): no dose, point to anti-IL-5/5R.
    b = PatientBuilder("out-of-table-ige", "oot")
    b.patient(family="Petrov", given="Ivan", gender="male", birth_date="1988-01-09", mrn="DEMO-1010")
    severe_allergic_asthma(b, onset="2000-01-01", recorded="2017-03-03")
    b.allergy(category="environment", text="House dust mite (Dermatophagoides farinae)",
              recorded="2017-03-03", manifestations=("Rhinitis",), severity="mild")
    b.specific_ige(SIGE_DFAR, 22.0, "2026-07-07T08:00:00-05:00")
    b.total_ige(2900, "ng/mL", "ng/mL", "2025-07-01T08:00:00-05:00")     # = 1198 IU/mL
    b.total_ige(1250, "kU/L", "k[IU]/L", "2026-07-07T08:00:00-05:00")
    b.weight(80, "2026-10-02T08:00:00-05:00")
    b.eos_absolute(420, "/uL", "/uL", "2026-10-02T08:00:00-05:00")
    asthma_meds(b, "2018-01-01")
    done(b, {"scenario": 10, "title": "Allergic asthma, total IgE above the table (38 y)",
             "summary": "Total IgE 1250 kU/L (> 700 IU/mL limit of US Table 1; earlier 2900 ng/mL = "
                        "1198 IU/mL); 80 kg; eosinophils 420/uL.",
             "expected": {
                 "patient-view": {"must": ["omalizumab-not-dosable", "anti-il5-recommended"], "may": []},
                 "order-select": {"draft": "draft-omalizumab-300mg-q4w", "must": ["omalizumab-not-dosable"],
                                  "may": ["anti-il5-recommended", "omalizumab-not-preferred"]}},
             "dose": None,
             "note": "No dose: IgE 1250 IU/mL is above the 700 IU/mL limit of US Table 1."})

    # 11. Missing weight.
    b = PatientBuilder("missing-weight", "nowt")
    b.patient(family="Silva", given="Beatriz", gender="female", birth_date="1997-06-21", mrn="DEMO-1011")
    severe_allergic_asthma(b, onset="2008-01-01", recorded="2022-11-08")
    b.specific_ige(SIGE_DPTER, 6.7, "2026-08-12T09:00:00-05:00")
    b.total_ige(180, "IU/mL", "[IU]/mL", "2026-08-12T09:00:00-05:00")
    b.eos_absolute(110, "/uL", "/uL", "2026-08-12T09:00:00-05:00")
    b.blood_pressure(110, 70, "2026-08-12T09:00:00-05:00")
    asthma_meds(b, "2022-11-08")
    done(b, {"scenario": 11, "title": "Allergic asthma, no body weight recorded (29 y)",
             "summary": "Sensitised (D. pteronyssinus sIgE 6.7 kU/L), IgE 180 IU/mL, no weight "
                        "Observation at all.",
             "expected": {"patient-view": {"must": [], "anyOf": ["data-needed", "omalizumab-not-dosable"],
                                           "may": ["data-needed", "omalizumab-not-dosable"],
                                           "mention": "weight"},
                          "order-select": {"draft": "draft-omalizumab-300mg-q4w", "must": [],
                                           "anyOf": ["data-needed", "omalizumab-not-dosable"],
                                           "may": ["data-needed", "omalizumab-not-dosable"],
                                           "mention": "weight"}},
             "dose": None, "note": "Says to record body weight instead of guessing a dose."})

    # 12. On treatment: IgE drawn on omalizumab is ignored; weight moved to another band.
    b = PatientBuilder("on-treatment", "otx")
    b.patient(family="Becker", given="Lukas", gender="male", birth_date="1981-09-03", mrn="DEMO-1012")
    severe_allergic_asthma(b, onset="2005-01-01", recorded="2016-04-12")
    b.allergy(category="environment", text="House dust mite (Dermatophagoides pteronyssinus)",
              recorded="2016-04-12", manifestations=("Wheezing",), severity="moderate")
    b.specific_ige(SIGE_DPTER, 15.2, "2025-01-15T08:00:00-05:00")
    b.total_ige(180, "IU/mL", "[IU]/mL", "2025-01-15T08:00:00-05:00")
    b.total_ige(640, "IU/mL", "[IU]/mL", "2026-06-10T08:00:00-05:00")    # on omalizumab: never doses
    b.weight(78, "2025-02-20T10:40:00-05:00")                           # at the prescribing visit
    b.weight(86, "2026-02-20T08:10:00-05:00")
    b.weight(94, "2026-10-16T08:10:00-05:00")
    b.eos_absolute(0.12, "10*3/uL", "10*3/uL", "2026-10-16T08:00:00-05:00")  # = 120 /uL
    b.med_request(OMALIZUMAB, "omalizumab 300 mg/2 mL prefilled syringe (Xolair)", authored="2025-02-20",
                  route="SC", dose=(300, "mg", "mg"), period=(4, "wk"), bounds_start="2025-03-01",
                  sig="300 mg subcutaneously every 4 weeks")
    b.med_statement(OMALIZUMAB, "omalizumab (Xolair) 300 mg SC every 4 weeks", start="2025-03-01",
                    asserted="2026-10-16")
    asthma_meds(b, "2016-04-12")
    done(b, {"scenario": 12, "title": "On omalizumab; weight has moved to another band (45 y)",
             "summary": "Omalizumab 300 mg q4w since 2025-03-01 (dosed from IgE 180 IU/mL, 78 kg). "
                        "On-treatment IgE 640 IU/mL (2026-06-10) must be ignored; weight now 94 kg.",
             "expected": {
                 "patient-view": {"must": ["omalizumab-dose"], "may": []},
                 "order-sign": {"draft": "draft-omalizumab-300mg-q4w",
                                "must": ["omalizumab-dose-mismatch"], "may": []}},
             "dose": {"mg": 225, "intervalWeeks": 2,
                      "rule": "US PI Table 1, baseline IgE 180 IU/mL (2025-01-15, before the first dose) "
                              "row >100-200, weight 94 kg column >90-150 (was >70-90 at 78 kg: 300 mg "
                              "q4w); the on-treatment IgE 640 IU/mL is not used"}})
    for entry in index:
        _order_hooks_keep_the_patient_view(entry["expected"])
    return bundles, index


def _order_hooks_keep_the_patient_view(expected: dict) -> None:
    """The order hooks answer with the patient-view conclusion plus the draft checks (brief: the phenotype is
    decided once per request), so what patient-view may show, an order hook may show too."""
    view = expected["patient-view"]
    shown = list(view["must"]) + list(view.get("may", ())) + list(view.get("anyOf", ()))
    for hook, exp in expected.items():
        if hook == "patient-view":
            continue
        exp["may"] = list(exp["may"]) + [t for t in shown if t not in exp["must"] and t not in exp["may"]]


def build_drafts() -> dict[str, dict]:
    """Draft MedicationRequests for the order hooks; `subject` is set to the chosen patient at use."""
    subject = {"reference": "Patient/{{patientId}}"}
    authored = ANCHOR
    return {
        "draft-omalizumab-300mg-q4w": medication_request(
            "draft-omalizumab-300mg-q4w", subject, OMALIZUMAB,
            "omalizumab 300 mg/2 mL prefilled syringe (Xolair)", authored=authored, status="draft",
            intent="order", route="SC", dose=(300, "mg", "mg"), period=(4, "wk"),
            sig="300 mg subcutaneously every 4 weeks"),
        "draft-omalizumab-150mg-q4w": medication_request(
            "draft-omalizumab-150mg-q4w", subject, OMALIZUMAB,
            "omalizumab 150 mg/mL prefilled syringe (Xolair)", authored=authored, status="draft",
            intent="order", route="SC", dose=(150, "mg", "mg"), period=(4, "wk"),
            sig="150 mg subcutaneously every 4 weeks"),
        "draft-cyclosporine-150mg-bid": medication_request(
            "draft-cyclosporine-150mg-bid", subject, CYCLOSPORINE,
            "cyclosporine modified 50 mg capsule (Neoral), 3 capsules twice daily", authored=authored,
            status="draft", intent="order", route="PO", dose=(150, "mg", "mg"), period=(1, "d"),
            frequency=2, sig="150 mg by mouth twice daily"),
        "draft-mepolizumab-100mg-q4w": medication_request(
            "draft-mepolizumab-100mg-q4w", subject, MEPOLIZUMAB,
            "mepolizumab 100 mg/mL prefilled autoinjector (Nucala)", authored=authored, status="draft",
            intent="order", route="SC", dose=(100, "mg", "mg"), period=(4, "wk"),
            sig="100 mg subcutaneously every 4 weeks"),
    }


def _readme(index: list[dict], drafts: dict[str, dict]) -> str:
    def topics(exp: dict) -> str:
        parts = [f"`{t}`" for t in exp["must"]]
        if exp.get("anyOf"):
            parts.append("one of " + " / ".join(f"`{t}`" for t in exp["anyOf"]))
        extra = [t for t in exp["may"] if t not in exp["must"] and t not in exp.get("anyOf", [])]
        if extra:
            parts.append("may add " + ", ".join(f"`{t}`" for t in extra))
        return "; ".join(parts) or "no card required"

    lines = [
        "# Demo patients (synthetic)",
        "",
        "Generated by `python -m demo.build_patients` (edit that file, not the JSON; a test checks they agree).",
        "One FHIR R4 Bundle (type `collection`) per scenario of the clinical brief, US Core-shaped, with",
        "several results over time and units as labs send them (IgE in IU/mL, kU/L and ng/mL; eosinophils as",
        "/uL, 10\\*3/uL, 10\\*9/L or % with the WBC of the same draw; one weight in [lb_av]).",
        "",
        f"**Dates** are stored anchored at {ANCHOR} and shifted at load time by (today - {ANCHOR}) days,",
        "birth dates included, so ages and intervals never change and the data stays recent. \"Today\" is",
        "`CDS_CLOCK` when set, else the UTC date (the same clock the service uses).",
        "",
        "**Codes** come only from `../shared/docs/clinical-reference.md` (Part 2 wins: chronic idiopathic",
        "urticaria SNOMED 302162004, D. pteronyssinus sIgE LOINC 6096-2, peanut sIgE 6206-7). Substances,",
        "reactions and drugs the reference has no verified code for are sent as text, as many feeds do.",
        "",
        "`index.json` holds the same table machine-readably; the tests (`tests/demo/`) check the service",
        "against it over HTTP and in a browser.",
        "",
        "| # | file | patient | expected patient-view | order hooks (draft: expected) | dose |",
        "|---|---|---|---|---|---|",
    ]
    for p in index:
        orders = "<br>".join(f"{h}, `{e['draft']}`: {topics(e)}" for h, e in p["expected"].items()
                             if h != "patient-view") or "-"
        dose = (f"{p['dose']['mg']} mg every {p['dose']['intervalWeeks']} weeks ({p['dose']['rule']})"
                if p["dose"] else p.get("note", "none"))
        lines.append(f"| {p['scenario']} | `{p['file']}` | {p['title']}: {p['summary']} | "
                     f"{topics(p['expected']['patient-view'])} | {orders} | {dose} |")
    lines += ["", "Order drafts (MedicationRequest, `status: draft`; the page and tests set `subject`):", ""]
    lines += [f"- `{k}.json`: {v['medicationCodeableConcept']['text']}, {v['dosageInstruction'][0]['text']}"
              for k, v in drafts.items()]
    return "\n".join(lines) + "\n"


def render() -> dict[str, str]:
    """File name -> JSON text for everything in demo/patients/ that this module owns."""
    bundles, index = build_all()
    drafts = build_drafts()
    files = {f"{slug}.json": bundle for slug, bundle in bundles.items()}
    files.update({f"{name}.json": draft for name, draft in drafts.items()})
    files["index.json"] = {
        "anchorDate": ANCHOR,
        "dateShift": "every date/dateTime is shifted by (today - anchorDate) days at load time; today "
                     "is CDS_CLOCK when set",
        "patients": index,
        "drafts": [{"id": k, "file": f"{k}.json", "text": v["medicationCodeableConcept"]["text"]}
                   for k, v in drafts.items()],
    }
    out = {name: json.dumps(obj, indent=1, ensure_ascii=False) + "\n" for name, obj in files.items()}
    out["README.md"] = _readme(index, drafts)
    return out


def main() -> None:
    PATIENTS_DIR.mkdir(exist_ok=True)
    for name, text in render().items():
        (PATIENTS_DIR / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(render())} files to {PATIENTS_DIR}")


if __name__ == "__main__":
    main()
