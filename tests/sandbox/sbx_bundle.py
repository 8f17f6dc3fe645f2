"""What the prebuilt Sandbox bundle signs with: its embedded private key and its JWT header/claims."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

_SIGNER = re.compile(
    r'JSON\.stringify\(\{iss:"(?P<iss>[^"]+)",aud:\w+,exp:[^}]*\}\),\w+=JSON\.stringify\(\{alg:"(?P<alg>\w+)",'
    r'typ:"JWT",kid:"(?P<kid>[^"]+)",jku:"(?P<jku>[^"]+)"\}\);return [\w.]+\.sign\(null,\w+,\w+,'
    r'"(?P<pem>-----BEGIN PRIVATE KEY-----(?:\\n|[A-Za-z0-9+/=])+-----END PRIVATE KEY-----\\n)"\)')


@dataclass(frozen=True)
class BundleSigner:
    iss: str
    alg: str
    kid: str
    jku: str
    pem_js: str  # the PEM as written in the JavaScript source (with \n escapes)

    @property
    def pem(self) -> bytes:
        return self.pem_js.replace("\\n", "\n").encode()

    def private_key(self):
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        return load_pem_private_key(self.pem, None)

    def public_jwk(self) -> dict:
        import jwt

        return json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private_key().public_key()))


def bundle_signer(sandbox_dir: Path) -> BundleSigner:
    source = (sandbox_dir / "app.bundle.js").read_text(encoding="utf-8")
    found = list(_SIGNER.finditer(source))
    assert len(found) == 1, f"expected one JWT signer in app.bundle.js, found {len(found)}"
    m = found[0]
    return BundleSigner(m["iss"], m["alg"], m["kid"], m["jku"], m["pem"])


def new_p384_pem_js() -> str:
    """A fresh P-384 PKCS#8 key, written as the bundle writes its key (another Sandbox build)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return pem.replace("\n", "\\n")


def bundle_with_key(sandbox_dir: Path, pem_js: str) -> str:
    """app.bundle.js with its signing key swapped (everything else byte for byte the same)."""
    source = (sandbox_dir / "app.bundle.js").read_text(encoding="utf-8")
    old = bundle_signer(sandbox_dir).pem_js
    assert source.count(old) == 1
    return source.replace(old, pem_js)
