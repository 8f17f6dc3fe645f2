"""Builders for hook requests, FHIR resources and EHR JWTs used by the service-layer tests."""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PV = "/cds-services/omalizumab-patient-view"
ORDER = "/cds-services/omalizumab-order-review"
FEEDBACK = PV + "/feedback"
PUBLIC_BASE = "https://cds.example.org"
ISSUER = "https://ehr.example.org"
FHIR = "https://fhir.example.org/r4"
JKU = "https://ehr.example.org/.well-known/jwks.json"


def patient(pid: str = "p1") -> dict:
    return {"resourceType": "Patient", "id": pid, "birthDate": "1980-04-02", "gender": "female"}


def bundle(*resources: dict, next_url: str | None = None) -> dict:
    b: dict = {"resourceType": "Bundle", "type": "searchset",
               "entry": [{"resource": r} for r in resources]}
    if next_url:
        b["link"] = [{"relation": "self", "url": "x"}, {"relation": "next", "url": next_url}]
    return b


def observation(oid: str, loinc: str, value: float, unit: str, when: str = "2026-10-01",
                pid: str = "p1") -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                              "code": unit}}


def full_prefetch(pid: str = "p1") -> dict:
    """Every template key answered (empty Bundles except the patient)."""
    import fhir_mappings

    data = {key: bundle() for key in fhir_mappings.prefetch_templates()}
    data["patient"] = patient(pid)
    return data


def hook_request(hook: str = "patient-view", *, prefetch: dict | None = None, pid: str = "p1",
                 fhir_server: str | None = None, token: str | None = None, **extra) -> dict:
    body: dict = {"hook": hook, "hookInstance": str(uuid.uuid4()),
                  "context": {"userId": "Practitioner/doc1", "patientId": pid}}
    if hook in ("order-select", "order-sign"):
        draft = {"resourceType": "MedicationRequest", "id": "draft-1", "status": "draft", "intent": "order",
                 "subject": {"reference": f"Patient/{pid}"},
                 "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                           "code": "302379", "display": "omalizumab"}],
                                               "text": "omalizumab"}}
        body["context"]["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": draft}]}
        if hook == "order-select":
            body["context"]["selections"] = ["MedicationRequest/draft-1"]
    if prefetch is not None:
        body["prefetch"] = prefetch
    if fhir_server:
        body["fhirServer"] = fhir_server
    if token:
        body["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                     "scope": "patient/*.read", "subject": "omalizumab-cds"}
    body.update(extra)
    return body


@dataclass
class Key:
    kid: str
    alg: str
    private: object

    @classmethod
    def ec384(cls, kid: str = "ec-1") -> "Key":
        return cls(kid, "ES384", ec.generate_private_key(ec.SECP384R1()))

    @classmethod
    def rsa(cls, kid: str = "rsa-1", alg: str = "RS384") -> "Key":
        return cls(kid, alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def public_jwk(self) -> dict:
        algo = jwt.algorithms.ECAlgorithm if self.alg.startswith("ES") else jwt.algorithms.RSAAlgorithm
        jwk = json.loads(algo.to_jwk(self.private.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": self.alg})
        return jwk

    def token(self, aud: str, *, iss: str = ISSUER, headers: dict | None = None, **claims) -> str:
        now = int(time.time())
        payload = {"iss": iss, "aud": aud, "exp": now + 300, "iat": now, "jti": uuid.uuid4().hex}
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        hdr = {"kid": self.kid, "typ": "JWT"}
        hdr.update(headers or {})
        return jwt.encode(payload, self.private, algorithm=self.alg, headers=hdr)


def write_issuers(tmp: Path, keys: list[Key], *, iss: str = ISSUER, jku: list[str] | None = None,
                  fhir_servers: list[str] | None = None, extra: list[dict] | None = None) -> Path:
    jwks_path = tmp / "ehr-jwks.json"
    jwks_path.write_text(json.dumps({"keys": [k.public_jwk() for k in keys]}))
    issuers = [{"iss": iss, "jwks_file": jwks_path.name, "jku": jku or [],
                "fhir_servers": fhir_servers if fhir_servers is not None else [FHIR]}]
    issuers += extra or []
    path = tmp / "issuers.json"
    path.write_text(json.dumps({"issuers": issuers}))
    return path


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
