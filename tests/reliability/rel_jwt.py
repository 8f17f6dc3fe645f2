"""JWT forging for the attack matrix: real keys, real JWKS files, and every malformed variant.

Honest tokens are signed with PyJWT (ES384 / RS384, as the CDS Hooks spec recommends). Attack tokens
that PyJWT refuses to make (alg "none", HS256 keyed with the issuer's public key PEM) are assembled by
hand with base64url + hmac, exactly as an attacker would.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


@dataclass
class SigningKey:
    """A private key, its kid and algorithm, and its public JWK."""

    kid: str
    alg: str  # ES384 or RS384
    private: Any
    public_jwk: dict = field(default_factory=dict)

    @classmethod
    def ec(cls, kid: str | None = None) -> "SigningKey":
        priv = ec.generate_private_key(ec.SECP384R1())
        k = cls(kid or f"ec-{uuid.uuid4().hex[:8]}", "ES384", priv)
        k.public_jwk = {**ECAlgorithm.to_jwk(priv.public_key(), as_dict=True),
                        "kid": k.kid, "alg": "ES384", "use": "sig"}
        return k

    @classmethod
    def rsa(cls, kid: str | None = None) -> "SigningKey":
        priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        k = cls(kid or f"rsa-{uuid.uuid4().hex[:8]}", "RS384", priv)
        k.public_jwk = {**RSAAlgorithm.to_jwk(priv.public_key(), as_dict=True),
                        "kid": k.kid, "alg": "RS384", "use": "sig"}
        return k

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, claims: dict, *, headers: dict | None = None, kid: str | None = None) -> str:
        hdr = {"typ": "JWT", "kid": kid if kid is not None else self.kid}
        hdr.update(headers or {})
        return jwt.encode(claims, self.private, algorithm=self.alg, headers=hdr)


def jwks(*keys: SigningKey) -> dict:
    return {"keys": [k.public_jwk for k in keys]}


def write_jwks(path: Path, *keys: SigningKey) -> Path:
    path.write_text(json.dumps(jwks(*keys)))
    return path


def claims(*, iss: str, aud: str | list[str] | None, lifetime: int = 300, now: float | None = None,
           jti: str | None = None, **extra: Any) -> dict:
    """Spec claims (iss, aud, exp, iat, jti); `aud=None` leaves aud out; extra overrides anything."""
    t = int(now if now is not None else time.time())
    c: dict[str, Any] = {"iss": iss, "exp": t + lifetime, "iat": t, "jti": jti or uuid.uuid4().hex}
    if aud is not None:
        c["aud"] = aud
    c.update(extra)
    return {k: v for k, v in c.items() if v is not _DROP}


_DROP = object()
DROP = _DROP  # pass claim=DROP to remove a claim


def unsigned_token(header: dict, payload: dict, signature: bytes = b"") -> str:
    return f"{b64url_json(header)}.{b64url_json(payload)}.{b64url(signature)}"


def alg_none_token(payload: dict, *, kid: str, alg: str = "none") -> str:
    """The classic: alg none, empty signature (variants: "None", "NONE", "nOnE")."""
    return unsigned_token({"alg": alg, "typ": "JWT", "kid": kid}, payload)


def hs256_key_confusion_token(payload: dict, *, kid: str, secret: bytes, alg: str = "HS256") -> str:
    """HMAC-sign with the issuer's *public* key material as the shared secret (RS/ES -> HS confusion)."""
    signing_input = f"{b64url_json({'alg': alg, 'typ': 'JWT', 'kid': kid})}.{b64url_json(payload)}"
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    sig = hmac.new(secret, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(sig)}"


def tampered_payload_token(token: str, **changes: Any) -> str:
    """Keep header and signature, swap claims: the signature no longer matches."""
    h, p, s = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    payload.update(changes)
    return f"{h}.{b64url_json(payload)}.{s}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- a trusted issuer for the service under test ---------------------------------------------------------
ISSUER = "https://ehr.rel.test"
JKU_ALLOWED = "https://ehr.rel.test/.well-known/jwks.json"
PUBLIC_BASE = "http://127.0.0.1:8080"


@dataclass
class IssuerKit:
    """Keys and files for one trusted issuer, plus a stranger's key for attacks."""

    ec: SigningKey
    rsa: SigningKey
    stranger: SigningKey
    issuers_path: Path
    jwks_path: Path
    iss: str = ISSUER
    base: str = PUBLIC_BASE

    def aud(self, path: str) -> str:
        return self.base + path

    def token(self, path: str, *, key: SigningKey | None = None, headers: dict | None = None,
              kid: str | None = None, **claim_overrides: Any) -> str:
        c = claims(iss=self.iss, aud=self.aud(path))
        c.update(claim_overrides)
        c = {k: v for k, v in c.items() if v is not DROP}
        return (key or self.ec).sign(c, headers=headers, kid=kid)


def write_issuers(dir_: Path, *, ec_key: SigningKey, rsa_key: SigningKey, fhir_servers: list[str],
                  extra_issuers: list[dict] | None = None, iss: str = ISSUER) -> tuple[Path, Path]:
    jwks_path = write_jwks(dir_ / "ehr-jwks.json", ec_key, rsa_key)
    doc = {"issuers": [{"iss": iss, "jwks_file": jwks_path.name, "jku": [JKU_ALLOWED],
                        "algorithms": ["ES384", "RS384"], "fhir_servers": fhir_servers}]
           + (extra_issuers or [])}
    path = dir_ / "trusted-issuers.json"
    path.write_text(json.dumps(doc, indent=2))
    return path, jwks_path
