"""Builders for realistic FHIR R4 JSON as EHRs emit it (US Core-shaped labs and vital signs)."""
from __future__ import annotations

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
PID = "pat-1"


def quantity(value, unit=None, code=None, system=UCUM, comparator=None):
    q = {"value": value}
    if comparator:
        q["comparator"] = comparator
    if unit is not None:
        q["unit"] = unit
    if code is not None:
        q["system"] = system
        q["code"] = code
    return q


def lab(oid, loinc, value=None, *, unit=None, code=None, when="2025-03-01T09:30:00-05:00", status="final",
        display=None, comparator=None, extra_codings=(), subject=PID, **more):
    """A US Core laboratory result Observation."""
    res = {
        "resourceType": "Observation",
        "id": oid,
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab"]},
        "status": status,
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory", "display": "Laboratory"}]}],
        "code": {"coding": [*extra_codings, {"system": LOINC, "code": loinc, **({"display": display} if display else {})}],
                 "text": display or loinc},
        "subject": {"reference": f"Patient/{subject}"},
    }
    if when is not None:
        res["effectiveDateTime"] = when
    if value is not None:
        res["valueQuantity"] = quantity(value, unit, code, comparator=comparator)
    res.update(more)
    return res


def vital(oid, loinc, value, unit, code, when="2025-03-01T10:00:00Z", status="final", subject=PID, **more):
    """A US Core vital-signs Observation (body weight etc.)."""
    res = {
        "resourceType": "Observation",
        "id": oid,
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-body-weight"]},
        "status": status,
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs", "display": "Vital Signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": f"Patient/{subject}"},
        "effectiveDateTime": when,
        "valueQuantity": quantity(value, unit, code),
    }
    res.update(more)
    return res


def bp_panel(oid, sys_value, dia_value, when="2025-03-01T10:00:00Z", status="final", unit="mmHg", code="mm[Hg]"):
    comps = []
    if sys_value is not None:
        comps.append({"code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
                      "valueQuantity": quantity(sys_value, unit, code)})
    if dia_value is not None:
        comps.append({"code": {"coding": [{"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]},
                      "valueQuantity": quantity(dia_value, unit, code)})
    return {
        "resourceType": "Observation", "id": oid, "status": status,
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-blood-pressure"]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel with all children optional"}],
                 "text": "Blood pressure"},
        "subject": {"reference": f"Patient/{PID}"},
        "effectiveDateTime": when,
        "component": comps,
    }


def patient(birth="1980-06-15", pid=PID):
    return {"resourceType": "Patient", "id": pid, "birthDate": birth, "gender": "female",
            "name": [{"family": "Test", "given": ["Pat"]}]}


def condition(cid, code, system=SNOMED, display=None, clinical="active", verification="confirmed", **more):
    res = {
        "resourceType": "Condition", "id": cid,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": clinical}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                           "code": verification}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                  "code": "problem-list-item"}]}],
        "code": {"coding": [{"system": system, "code": code, **({"display": display} if display else {})}],
                 **({"text": display} if display else {})},
        "subject": {"reference": f"Patient/{PID}"},
    }
    if clinical is None:
        del res["clinicalStatus"]
    res.update(more)
    return res


def med_request(mid, *, rxnorm=None, text=None, status="active", authored="2024-01-10", intent="order",
                reference=None, contained=None, bounds=None, **more):
    res = {"resourceType": "MedicationRequest", "id": mid, "status": status, "intent": intent,
           "subject": {"reference": f"Patient/{PID}"}}
    if authored:
        res["authoredOn"] = authored
    if reference:
        res["medicationReference"] = {"reference": reference}
    else:
        cc = {}
        if rxnorm:
            cc["coding"] = [{"system": RXNORM, "code": rxnorm}]
        if text:
            cc["text"] = text
        res["medicationCodeableConcept"] = cc
    if contained:
        res["contained"] = contained
    if bounds:
        res["dosageInstruction"] = [{"timing": {"repeat": {"boundsPeriod": bounds}}}]
    res.update(more)
    return res


def med_statement(mid, *, text, status="active", start=None, end=None, rxnorm=None):
    cc = {"text": text}
    if rxnorm:
        cc["coding"] = [{"system": RXNORM, "code": rxnorm}]
    res = {"resourceType": "MedicationStatement", "id": mid, "status": status,
           "medicationCodeableConcept": cc, "subject": {"reference": f"Patient/{PID}"}}
    if start or end:
        res["effectivePeriod"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    return res


def allergy(aid, text, *, manifestations=(), atype="allergy", category=None, verification="confirmed",
            clinical="active", code=None):
    cc = {"text": text} if text else {}
    if code:
        cc["coding"] = [{"system": SNOMED, "code": code}]
    res = {
        "resourceType": "AllergyIntolerance", "id": aid,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                       "code": clinical}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                                           "code": verification}]},
        "type": atype,
        "code": cc,
        "patient": {"reference": f"Patient/{PID}"},
        "recordedDate": "2023-04-01",
    }
    if category:
        res["category"] = [category]
    if manifestations:
        res["reaction"] = [{"manifestation": [{"text": m} for m in manifestations]}]
    return res


def bundle(*resources, btype="searchset", full_urls=False):
    b = {"resourceType": "Bundle", "entry": []}
    if btype:
        b["type"] = btype
    for r in resources:
        e = {"resource": r}
        if full_urls and r.get("id"):
            e["fullUrl"] = f"http://ehr.example/fhir/{r['resourceType']}/{r['id']}"
        b["entry"].append(e)
    return b
