"""Request bodies and a small patient chart shared by the reliability tests.

The chart carries deliberately recognisable patient data (a name, a birth date, lab values with
distinctive digits) so the log-hygiene test can search the logs for it.
"""
from __future__ import annotations

import uuid
from typing import Any

PATIENT_ID = "rel-pat-1"
SECRET_FAMILY = "Zylberstein"
SECRET_GIVEN = "Quintavia"
SECRET_BIRTHDATE = "1987-03-19"
SECRET_IGE = 247.31  # distinctive digits that would show up verbatim in a leaky log
SECRET_WEIGHT = 71.37


def _obs(oid: str, loinc: str, value: float, unit: str, code: str, when: str = "2025-03-01") -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": f"Patient/{PATIENT_ID}"}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": code}}


PATIENT = {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": SECRET_BIRTHDATE, "gender": "female",
           "name": [{"family": SECRET_FAMILY, "given": [SECRET_GIVEN]}]}

CHART: dict[str, list[dict]] = {
    "Patient": [PATIENT],
    "Observation": [
        _obs("ige-1", "19113-0", SECRET_IGE, "IU/mL", "[IU]/mL"),
        _obs("wt-1", "29463-7", SECRET_WEIGHT, "kg", "kg", "2025-05-01"),
        _obs("eos-1", "26449-9", 120, "/uL", "/uL"),
        _obs("egfr-1", "98979-8", 92, "mL/min/1.73m2", "mL/min/{1.73_m2}"),
        _obs("hdm-1", "6096-2", 12.4, "kU/L", "k[IU]/L"),
    ],
    "Condition": [{"resourceType": "Condition", "id": "cond-1", "subject": {"reference": f"Patient/{PATIENT_ID}"},
                   "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                  "code": "active"}]},
                   "verificationStatus": {"coding": [{
                       "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
                   "code": {"coding": [{"system": "http://snomed.info/sct", "code": "389145006",
                                        "display": "Allergic asthma"}]}}],
    "MedicationRequest": [],
    "MedicationStatement": [],
    "AllergyIntolerance": [],
}


def hook_request(*, hook: str = "patient-view", patient_id: str = PATIENT_ID, prefetch: Any = None,
                 fhir_server: str | None = None, fhir_token: str | None = None,
                 draft_orders: Any = None, selections: list[str] | None = None,
                 include_prefetch: bool = True) -> dict:
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/dr-1", "patientId": patient_id},
    }
    if hook in ("order-select", "order-sign"):
        body["context"]["draftOrders"] = draft_orders if draft_orders is not None else {
            "resourceType": "Bundle", "type": "collection", "entry": []}
        if hook == "order-select":
            body["context"]["selections"] = selections or []
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
    if fhir_token is not None:
        body["fhirAuthorization"] = {"access_token": fhir_token, "token_type": "Bearer", "expires_in": 300,
                                     "scope": "patient/*.read", "subject": "omalizumab-cds",
                                     "patient": patient_id}
    if include_prefetch and prefetch is not None:
        body["prefetch"] = prefetch
    return body


def full_prefetch() -> dict:
    """The chart as a client would prefetch it (every key, searchsets per kind)."""
    def bundle(resources: list[dict]) -> dict:
        return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
                "entry": [{"resource": r} for r in resources]}

    obs = CHART["Observation"]
    by_code = lambda *codes: [o for o in obs if o["code"]["coding"][0]["code"] in codes]  # noqa: E731
    return {
        "patient": PATIENT,
        "totalIge": bundle(by_code("19113-0")),
        "weight": bundle(by_code("29463-7")),
        "eosinophils": bundle(by_code("26449-9")),
        "egfr": bundle(by_code("98979-8")),
        "specificIge": bundle(by_code("6096-2")),
        "lte4": bundle([]),
        "bloodPressure": bundle([]),
        "conditions": bundle(CHART["Condition"]),
        "medicationRequests": bundle([]),
        "medicationStatements": bundle([]),
        "allergies": bundle([]),
    }


def feedback_body(card: str | None = None, *, n: int = 1, outcome: str = "overridden") -> dict:
    items = []
    for _ in range(n):
        item: dict[str, Any] = {"card": card or str(uuid.uuid4()), "outcome": outcome,
                                "outcomeTimestamp": "2025-06-01T10:05:31Z"}
        if outcome == "accepted":
            item["acceptedSuggestions"] = [{"id": str(uuid.uuid4())}]
        else:
            item["overrideReason"] = {"reason": {"system": "http://omalizumab-cds.org/CodeSystem/override-reason",
                                                 "code": "clinical-judgement", "display": "Clinical judgement"},
                                      "userComment": "checked"}
        items.append(item)
    return {"feedback": items}


def topics(response_json: dict) -> list[str]:
    return [c.get("source", {}).get("topic", {}).get("code") for c in response_json.get("cards", [])]
