"""Trusted CDS clients (EHRs) and where their public keys are: the CDS_TRUSTED_ISSUERS file.

File format (JSON; relative paths are relative to the file):

    {"issuers": [
      {"iss": "https://sandbox.cds-hooks.org",
       "jwks_file": "sandbox-jwks.json",            # or "jwks_url": "https://.../jwks.json",
                                                    # or "jwks": {"keys": [...]} inline
       "jku": ["https://sandbox.cds-hooks.org/.well-known/jwks.json"],   # jku values honoured
                                                    # (fetched for a kid the keys above lack), or
                                                    # pinned: {"<jku URL>": "<local JWKS file>"},
                                                    # accepted but never fetched
       "algorithms": ["ES384"],                     # optional subset of the service's allowlist
       "fhir_servers": ["http://127.0.0.1:8080/demo/fhir"]}             # fhirServer bases allowed
    ]}

A pinned jku is for a client whose `jku` names a JWKS the service must not (or cannot) fetch, such as
the CDS Hooks Sandbox's internet URL in an offline set-up: tokens carrying it are checked against the
local file only.  Keys are cached for CDS_JWKS_CACHE_SECONDS; an unknown `kid` triggers at most one early refresh per
30 s (key rotation without a restart, without letting a stranger make us hammer the JWKS URL).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt

from .settings import JWT_ALGORITHMS, SettingsError, normalize_base_url

MIN_REFRESH_SECONDS = 30.0
log = logging.getLogger("cds_service.issuers")


def _fetch_jwks(url: str) -> Any:
    """GET a JWK Set: short timeouts, no redirects (a redirect could swap in someone else's keys)."""
    import requests

    with requests.Session() as session:
        session.trust_env = False
        resp = session.get(url, timeout=(2, 3), allow_redirects=False,
                           headers={"Accept": "application/jwk-set+json, application/json"})
    if resp.status_code != 200 or len(resp.content) > 1_000_000:
        raise ValueError(f"JWKS fetch failed: HTTP {resp.status_code}")
    return resp.json()


class JwksSource:
    """One JWK Set (file, URL or inline) with a TTL cache."""

    def __init__(self, *, file: str | None = None, url: str | None = None,
                 inline: dict | None = None, ttl: float = 300.0) -> None:
        self.file, self.url, self.inline, self.ttl = file, url, inline, ttl
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at = -1e18
        self._lock = threading.Lock()

    def _load(self) -> dict[str, jwt.PyJWK]:
        if self.inline is not None:
            data = self.inline
        elif self.file is not None:
            with open(self.file, encoding="utf-8") as fh:
                data = json.load(fh)
        else:
            log.info(json.dumps({"event": "jwks_fetch", "url": self.url}))
            data = _fetch_jwks(self.url)  # type: ignore[arg-type]
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in (data.get("keys") if isinstance(data, dict) else None) or ():
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig" or "d" in jwk:
                continue  # only public signing keys
            try:
                key = jwt.PyJWK(jwk)
            except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                continue
            if isinstance(jwk.get("kid"), str):
                keys[jwk["kid"]] = key
        return keys

    def key_for(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        with self._lock:
            stale = now - self._loaded_at > self.ttl
            missing = kid not in self._keys and now - self._loaded_at > MIN_REFRESH_SECONDS
            if stale or missing:
                try:
                    self._keys = self._load()
                    self._loaded_at = now
                except Exception:  # noqa: BLE001 - unreachable JWKS: keep the old keys, retry later
                    self._loaded_at = now - max(self.ttl - MIN_REFRESH_SECONDS, 0.0)
            return self._keys.get(kid)


@dataclass(frozen=True)
class TrustedIssuer:
    iss: str
    keys: JwksSource
    jku: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = JWT_ALGORITHMS
    fhir_servers: tuple[str, ...] = ()
    jku_pins: tuple[tuple[str, JwksSource], ...] = ()  # (jku URL, its local JWKS): never fetched

    def pinned_jku(self, jku: str) -> JwksSource | None:
        for url, source in self.jku_pins:
            if url == jku:
                return source
        return None


def load_issuers(path: str, *, ttl: float) -> dict[str, TrustedIssuer]:
    """Parse the issuers file; raise SettingsError naming the problem."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise SettingsError(f"CDS_TRUSTED_ISSUERS: cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise SettingsError(f"CDS_TRUSTED_ISSUERS: {path} is not JSON: {exc}") from None
    entries = doc.get("issuers") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise SettingsError(f"CDS_TRUSTED_ISSUERS: {path} needs an 'issuers' array")
    base_dir = os.path.dirname(os.path.abspath(path))
    issuers: dict[str, TrustedIssuer] = {}
    for i, entry in enumerate(entries):
        where = f"CDS_TRUSTED_ISSUERS issuers[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("iss"), str) or not entry["iss"]:
            raise SettingsError(f"{where}: needs 'iss'")
        sources = [k for k in ("jwks_file", "jwks_url", "jwks") if entry.get(k)]
        if len(sources) != 1:
            raise SettingsError(f"{where}: needs exactly one of jwks_file, jwks_url, jwks")
        file = entry.get("jwks_file")
        if file:
            file = file if os.path.isabs(file) else os.path.join(base_dir, file)
            if not os.path.isfile(file):
                raise SettingsError(f"{where}: jwks_file {file} does not exist")
        url = entry.get("jwks_url")
        if url and not str(url).startswith(("https://", "http://")):
            raise SettingsError(f"{where}: jwks_url must be an http(s) URL")
        inline = entry.get("jwks")
        if inline is not None and not isinstance(inline, dict):
            raise SettingsError(f"{where}: jwks must be a JWK Set object")
        algorithms = tuple(entry.get("algorithms") or JWT_ALGORITHMS)
        bad = [a for a in algorithms if a not in JWT_ALGORITHMS]
        if bad:
            raise SettingsError(f"{where}: algorithms not allowed (asymmetric only): {bad}")
        jku = entry.get("jku") or []
        fhir = entry.get("fhir_servers") or []
        pins: list[tuple[str, JwksSource]] = []
        if isinstance(jku, dict):  # pinned: each jku URL names a local JWKS file, never fetched
            for jku_url, pin in jku.items():
                if not isinstance(pin, str) or not pin:
                    raise SettingsError(f"{where}: jku {jku_url}: a pinned jku needs a local JWKS file name")
                pin = pin if os.path.isabs(pin) else os.path.join(base_dir, pin)
                if not os.path.isfile(pin):
                    raise SettingsError(f"{where}: jku {jku_url}: pinned JWKS file {pin} does not exist")
                pins.append((jku_url, JwksSource(file=pin, ttl=ttl)))
            jku = list(jku)
        if not isinstance(jku, list) or not all(isinstance(u, str) for u in jku):
            raise SettingsError(f"{where}: jku must be a list of URLs or an object of URL -> JWKS file")
        if not isinstance(fhir, list) or not all(isinstance(u, str) for u in fhir):
            raise SettingsError(f"{where}: fhir_servers must be a list of URLs")
        issuers[entry["iss"]] = TrustedIssuer(
            iss=entry["iss"],
            keys=JwksSource(file=file, url=url, inline=inline, ttl=ttl),
            jku=tuple(jku),
            algorithms=algorithms,
            fhir_servers=tuple(normalize_base_url(u) for u in fhir),
            jku_pins=tuple(pins),
        )
    return issuers

