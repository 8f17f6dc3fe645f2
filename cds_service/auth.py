"""Trusting CDS clients (CDS Hooks 2.0 "Trusting CDS Clients" and the best-practice checks).

Every discovery, service and feedback call carries `Authorization: Bearer <JWT>`.  Checked, in order:
asymmetric `alg` on the allowlist (never `none` or HMAC), `kid` present; `iss` is a trusted issuer;
`jku`, if sent, is on that issuer's allowlist; the signature verifies with that issuer's JWKS (or the
allowlisted jku's; a pinned jku is read from its local file, never fetched); `aud` is exactly the called URL built from CDS_PUBLIC_BASE_URL (not from the
request, which a proxy rewrites); `exp`, `iat`, `nbf` within a small leeway and a bounded lifetime;
`jti` not seen before.  Any failure is 401 with the same body, so a caller learns nothing about
why; the reason is logged (with iss and kid, never the token).
"""
from __future__ import annotations

import json
import logging
import time

import jwt
from flask import Flask, Request

from .errors import ApiError
from .issuers import JwksSource, TrustedIssuer, load_issuers
from .replay import ReplayCacheUnavailable, replay_cache
from .settings import JWT_ALGORITHMS, Settings, SettingsError

log = logging.getLogger("cds_service.auth")

MAX_TOKEN_LENGTH = 16384


class AuthFailed(Exception):
    """Why a token was refused (logged, never sent to the client)."""


class Authenticator:
    def __init__(self, settings: Settings, issuers: dict[str, TrustedIssuer], replay) -> None:
        self.settings = settings
        self.issuers = issuers
        self.replay = replay
        self._jku_sources: dict[str, JwksSource] = {}

    # -- the check -------------------------------------------------------------------------
    def authenticate(self, request: Request) -> TrustedIssuer:
        try:
            issuer, claims = self.verify(request.headers.get("Authorization"), self.expected_audience(request))
        except AuthFailed as exc:
            log.info(json.dumps({"event": "auth_failed", "reason": str(exc), "path": request.path}))
            raise ApiError(401, "unauthorized") from None
        except ReplayCacheUnavailable as exc:
            log.error(json.dumps({"event": "replay_cache_unavailable", "error": str(exc)}))
            raise ApiError(503, "service unavailable", ["authentication store unavailable"]) from None
        from flask import g

        if isinstance(getattr(g, "cds_log", None), dict):
            g.cds_log["issuer"] = issuer.iss
        return issuer

    def expected_audience(self, request: Request) -> str:
        return self.settings.public_base_url + request.path

    def verify(self, authorization: str | None, audience: str) -> tuple[TrustedIssuer, dict]:
        if not authorization or not authorization[:7].lower() == "bearer ":
            raise AuthFailed("no bearer token")
        token = authorization[7:].strip()
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthFailed("token empty or too long")
        try:  # header and claims in one parse: they pick the issuer and key the real check uses
            parsed = jwt.decode_complete(token, options={"verify_signature": False})
            header, unverified = parsed["header"], parsed["payload"]
        except jwt.PyJWTError:
            raise AuthFailed("malformed token") from None
        alg = header.get("alg")
        if alg not in JWT_ALGORITHMS:
            raise AuthFailed(f"algorithm not allowed: {str(alg)[:16]}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthFailed("no kid")
        typ = header.get("typ")
        if typ is not None and str(typ).upper() != "JWT":
            raise AuthFailed("typ is not JWT")
        iss = unverified.get("iss")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise AuthFailed("untrusted issuer")
        if alg not in issuer.algorithms:
            raise AuthFailed("algorithm not allowed for this issuer")
        jku = header.get("jku")
        if jku is not None and jku not in issuer.jku:
            raise AuthFailed("jku not on the issuer's allowlist")
        key = issuer.keys.key_for(kid)
        if key is None and jku is not None:
            pinned = issuer.pinned_jku(jku)  # a pinned jku is read from its local file, never fetched
            key = (pinned if pinned is not None else self._jku_source(jku)).key_for(kid)
        if key is None:
            raise AuthFailed("unknown kid")
        jwk_alg = (getattr(key, "_jwk_data", None) or {}).get("alg")
        if jwk_alg and jwk_alg != alg:
            raise AuthFailed("key is not for this algorithm")
        leeway = self.settings.jwt_leeway_seconds
        try:
            claims = jwt.decode(token, key=key.key, algorithms=[alg], audience=audience, issuer=iss,
                                leeway=leeway,
                                options={"require": ["iss", "aud", "exp", "iat", "jti"],
                                         "verify_signature": True, "verify_exp": True,
                                         "verify_iat": True, "verify_nbf": True, "verify_aud": True,
                                         "verify_iss": True})
        except jwt.InvalidAudienceError:
            raise AuthFailed("wrong aud") from None
        except jwt.ExpiredSignatureError:
            raise AuthFailed("expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthFailed("not yet valid (iat/nbf in the future)") from None
        except jwt.PyJWTError as exc:
            raise AuthFailed(f"invalid token ({type(exc).__name__})") from None
        except Exception as exc:  # noqa: BLE001 - key/alg mismatch inside the crypto backend
            raise AuthFailed(f"verification error ({type(exc).__name__})") from None
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, (int, float)) or not isinstance(iat, (int, float)):
            raise AuthFailed("exp/iat not numeric")
        if exp - iat > self.settings.jwt_max_lifetime_seconds:
            raise AuthFailed("token lifetime too long")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise AuthFailed("bad jti")
        ttl = int(exp - time.time()) + leeway + 1
        if not self.replay.first_use(iss, jti, ttl):
            raise AuthFailed("replayed jti")
        return issuer, claims

    def _jku_source(self, url: str) -> JwksSource:
        source = self._jku_sources.get(url)
        if source is None:
            source = self._jku_sources[url] = JwksSource(url=url, ttl=self.settings.jwks_cache_seconds)
        return source


def init_app(app: Flask, settings: Settings) -> None:
    if not settings.auth_enabled:
        log.warning("!!! CDS_AUTH=off: EHR authentication is DISABLED. Local demo/tests only; the "
                    "server refuses to bind to a non-loopback address. !!!")
        app.extensions["cds_auth"] = None
        return
    if not settings.trusted_issuers_file:
        raise SettingsError("CDS_AUTH=jwt needs CDS_TRUSTED_ISSUERS (a JSON file of trusted issuers); "
                            "set CDS_AUTH=off only for a local demo")
    issuers = load_issuers(settings.trusted_issuers_file, ttl=settings.jwks_cache_seconds)
    app.extensions["cds_auth"] = Authenticator(settings, issuers, replay_cache(settings.redis_url))

    @app.after_request
    def _www_authenticate(response):
        if response.status_code == 401:
            response.headers.setdefault("WWW-Authenticate", 'Bearer realm="cds-services"')
        return response

