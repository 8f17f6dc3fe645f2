"""Service configuration: one place that reads the environment (and `create_app(config)` overrides).

Why one frozen dataclass: every module (HTTP layer, pipeline, CLI, gunicorn runner) sees the same
validated values, a typo in an environment variable fails at start-up with a clear message instead
of in the middle of a request, and tests build settings from a plain dict without touching
`os.environ`.  Variable names and defaults are those of docs/architecture.md, plus the extra knobs
listed in `ENV_VARS` below.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timezone
from typing import Any, Mapping
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A configuration value is invalid (raised at start-up, never during a request)."""


# environment variable -> (field name, default as the environment would spell it)
ENV_VARS: dict[str, tuple[str, str | None]] = {
    "CDS_AUTH": ("auth", "jwt"),
    "CDS_TRUSTED_ISSUERS": ("trusted_issuers_file", None),
    "CDS_PUBLIC_BASE_URL": ("public_base_url", "http://127.0.0.1:8080"),
    "CDS_DATABASE_URL": ("database_url", "sqlite:///instance/omalizumab-cds.sqlite3"),
    "CDS_REDIS_URL": ("redis_url", None),
    "CDS_REGION": ("region", "US"),
    "CDS_DEMO": ("demo", "0"),
    "CDS_MAX_BODY_BYTES": ("max_body_bytes", "5242880"),
    "CDS_MAX_JSON_DEPTH": ("max_json_depth", "64"),
    "CDS_FHIR_BUDGET_SECONDS": ("fhir_budget_seconds", "2.5"),
    "CDS_FHIR_CONNECT_TIMEOUT": ("fhir_connect_timeout", "1.5"),
    "CDS_FHIR_READ_TIMEOUT": ("fhir_read_timeout", "2.0"),
    "CDS_FHIR_MAX_PAGES": ("fhir_max_pages", "5"),
    "CDS_FHIR_MAX_WORKERS": ("fhir_max_workers", "8"),
    "CDS_FHIR_MAX_ENTRIES": ("fhir_max_entries", "1000"),
    "CDS_ALLOW_OPEN_FHIR": ("allow_open_fhir", None),  # default: on in demo mode, off otherwise
    "CDS_ALLOWED_FHIR_SERVERS": ("allowed_fhir_servers", ""),
    "CDS_CORS_ORIGINS": ("cors_origins", None),  # default: "*" in demo / auth-off mode, none otherwise
    "CDS_CLOCK": ("clock", None),
    "CDS_JWT_LEEWAY_SECONDS": ("jwt_leeway_seconds", "60"),
    "CDS_JWT_MAX_LIFETIME_SECONDS": ("jwt_max_lifetime_seconds", "3600"),
    "CDS_JWKS_CACHE_SECONDS": ("jwks_cache_seconds", "300"),
    "CDS_DB_AUTO_MIGRATE": ("db_auto_migrate", "1"),
    "CDS_LOG_LEVEL": ("log_level", "INFO"),
    "CDS_CARD_LOG_WRITE_BEHIND_MS": ("card_log_write_behind_ms", "50"),
}

JWT_ALGORITHMS: tuple[str, ...] = ("ES384", "RS384", "ES256", "RS256", "ES512", "RS512", "PS384", "PS256")


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name}: expected a boolean (1/0, true/false), got {value!r}")


def _number(name: str, value: Any, kind: type, minimum: float) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}: expected a number, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{name}: must be >= {minimum}, got {value!r}")
    return number


def _csv(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        items = value
    else:
        items = str(value).split(",")
    return tuple(item.strip() for item in items if str(item).strip())


def normalize_base_url(url: str) -> str:
    """Canonical form of a base URL for comparisons: lower-case scheme and host, no trailing slash."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    netloc = parts.netloc.lower()
    return f"{parts.scheme.lower()}://{netloc}{path}"


@dataclass(frozen=True)
class Settings:
    auth: str = "jwt"
    trusted_issuers_file: str | None = None
    public_base_url: str = "http://127.0.0.1:8080"
    database_url: str = "sqlite:///instance/omalizumab-cds.sqlite3"
    redis_url: str | None = None
    region: str = "US"
    demo: bool = False
    max_body_bytes: int = 5 * 1024 * 1024
    max_json_depth: int = 64
    fhir_budget_seconds: float = 2.5
    fhir_connect_timeout: float = 1.5  # above the 1 s TCP SYN retransmit
    fhir_read_timeout: float = 2.0
    fhir_max_pages: int = 5
    fhir_max_workers: int = 8
    fhir_max_entries: int = 1000
    allow_open_fhir: bool = False
    allowed_fhir_servers: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    clock: date | None = None
    jwt_leeway_seconds: int = 60
    jwt_max_lifetime_seconds: int = 3600
    jwks_cache_seconds: int = 300
    db_auto_migrate: bool = True
    log_level: str = "INFO"
    card_log_write_behind_ms: int = 50  # 0: the card log is written inside the request
    extra: Mapping[str, Any] = field(default_factory=dict)  # non-CDS_ keys from create_app(config)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 overrides: Mapping[str, Any] | None = None) -> "Settings":
        """Read `CDS_*` variables from `environ` (default `os.environ`); `overrides` wins.

        Override keys may be the environment names (`CDS_AUTH`) or the field names (`auth`); any
        other key is kept in `extra` (e.g. `CDS_EVALUATOR` injected by tests is a CDS_ key that is
        not a setting, so it goes to `extra` as well).
        """
        environ = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        for env_name, (fname, default) in ENV_VARS.items():
            raw[fname] = environ.get(env_name, default)
        extra: dict[str, Any] = {}
        field_names = {f.name for f in fields(cls)}
        for key, value in (overrides or {}).items():
            if key in ENV_VARS:
                raw[ENV_VARS[key][0]] = value
            elif key in field_names and key != "extra":
                raw[key] = value
            else:
                extra[key] = value
        return cls._coerce(raw, extra)

    @classmethod
    def _coerce(cls, raw: dict[str, Any], extra: dict[str, Any]) -> "Settings":
        auth = str(raw["auth"] or "jwt").strip().lower()
        if auth not in ("jwt", "off"):
            raise SettingsError(f"CDS_AUTH: expected 'jwt' or 'off', got {raw['auth']!r}")
        demo = _bool("CDS_DEMO", raw["demo"])
        public = str(raw["public_base_url"] or "").strip()
        parts = urlsplit(public)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(f"CDS_PUBLIC_BASE_URL: expected an absolute http(s) URL, got {public!r}")
        region = str(raw["region"] or "US").strip().upper()
        if region not in ("US", "EU"):
            raise SettingsError(f"CDS_REGION: expected US or EU, got {raw['region']!r}")
        open_fhir = raw["allow_open_fhir"]
        allow_open = demo if open_fhir is None else _bool("CDS_ALLOW_OPEN_FHIR", open_fhir)
        cors = raw["cors_origins"]
        if cors is None:
            cors_origins: tuple[str, ...] = ("*",) if (demo or auth == "off") else ()
        else:
            cors_origins = _csv(cors)
        clock = raw["clock"]
        if clock is not None and not isinstance(clock, date):
            try:
                clock = date.fromisoformat(str(clock).strip()[:10])
            except ValueError:
                raise SettingsError(f"CDS_CLOCK: expected an ISO date, got {raw['clock']!r}") from None
        allowed = tuple(normalize_base_url(u) for u in _csv(raw["allowed_fhir_servers"]))
        for url in allowed:
            if urlsplit(url).scheme not in ("http", "https"):
                raise SettingsError(f"CDS_ALLOWED_FHIR_SERVERS: not an http(s) URL: {url!r}")
        db_url = str(raw["database_url"] or "").strip()
        if not db_url:
            raise SettingsError("CDS_DATABASE_URL: must not be empty")
        return cls(
            auth=auth,
            trusted_issuers_file=(str(raw["trusted_issuers_file"]).strip() or None)
            if raw["trusted_issuers_file"] else None,
            public_base_url=public.rstrip("/"),
            database_url=db_url,
            redis_url=(str(raw["redis_url"]).strip() or None) if raw["redis_url"] else None,
            region=region,
            demo=demo,
            max_body_bytes=_number("CDS_MAX_BODY_BYTES", raw["max_body_bytes"], int, 1024),
            max_json_depth=_number("CDS_MAX_JSON_DEPTH", raw["max_json_depth"], int, 8),
            fhir_budget_seconds=_number("CDS_FHIR_BUDGET_SECONDS", raw["fhir_budget_seconds"], float, 0.05),
            fhir_connect_timeout=_number("CDS_FHIR_CONNECT_TIMEOUT", raw["fhir_connect_timeout"], float, 0.01),
            fhir_read_timeout=_number("CDS_FHIR_READ_TIMEOUT", raw["fhir_read_timeout"], float, 0.01),
            fhir_max_pages=_number("CDS_FHIR_MAX_PAGES", raw["fhir_max_pages"], int, 1),
            fhir_max_workers=_number("CDS_FHIR_MAX_WORKERS", raw["fhir_max_workers"], int, 1),
            fhir_max_entries=_number("CDS_FHIR_MAX_ENTRIES", raw["fhir_max_entries"], int, 10),
            allow_open_fhir=allow_open,
            allowed_fhir_servers=allowed,
            cors_origins=cors_origins,
            clock=clock,
            jwt_leeway_seconds=_number("CDS_JWT_LEEWAY_SECONDS", raw["jwt_leeway_seconds"], int, 0),
            card_log_write_behind_ms=_number("CDS_CARD_LOG_WRITE_BEHIND_MS", raw["card_log_write_behind_ms"], int, 0),
            jwt_max_lifetime_seconds=_number("CDS_JWT_MAX_LIFETIME_SECONDS",
                                             raw["jwt_max_lifetime_seconds"], int, 60),
            jwks_cache_seconds=_number("CDS_JWKS_CACHE_SECONDS", raw["jwks_cache_seconds"], int, 0),
            db_auto_migrate=_bool("CDS_DB_AUTO_MIGRATE", raw["db_auto_migrate"]),
            log_level=str(raw["log_level"] or "INFO").upper(),
            extra=extra,
        )

    # -- derived values ------------------------------------------------------------------------
    @property
    def auth_enabled(self) -> bool:
        return self.auth != "off"

    @property
    def demo_fhir_base(self) -> str:
        """The demo FHIR server this app serves itself (demo mode only)."""
        return f"{self.public_base_url}/demo/fhir"

    def demo_fhir_bases(self) -> tuple[str, ...]:
        """Own demo FHIR base under the public base URL plus its loopback spellings."""
        bases = {normalize_base_url(self.demo_fhir_base)}
        parts = urlsplit(self.public_base_url)
        port = f":{parts.port}" if parts.port else ""
        for host in ("127.0.0.1", "localhost"):
            bases.add(normalize_base_url(f"{parts.scheme}://{host}{port}/demo/fhir"))
        return tuple(sorted(bases))

    def fhir_servers_without_issuer(self) -> tuple[str, ...]:
        """FHIR bases allowed when no trusted issuer names them (CDS_AUTH=off, CLI evaluate);
        computed once per Settings (its fields never change), asked on every hook call."""
        found = self.__dict__.get("_bases_without_issuer")
        if found is None:
            bases = list(self.allowed_fhir_servers)
            if self.demo:
                bases.extend(self.demo_fhir_bases())
            found = tuple(dict.fromkeys(bases))
            object.__setattr__(self, "_bases_without_issuer", found)  # frozen: a memo, not a field
        return found

    def evaluation_date(self, now=None) -> date:
        """'Today' for the clinical logic: `now`, else CDS_CLOCK, else the UTC date.  (datetime is
        imported with the module: an import statement here cost ~15,000 instructions a request.)"""
        if now is not None:
            return now.date() if hasattr(now, "date") and callable(now.date) else now
        if self.clock is not None:
            return self.clock
        return datetime.now(timezone.utc).date()
