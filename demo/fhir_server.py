"""A read-only FHIR R4 endpoint at /demo/fhir serving the demo patients (demo mode only).

Why: the CDS Hooks Sandbox needs an open, CORS-enabled R4 server to resolve prefetch and pick a patient,
and the service's fetch-when-prefetch-is-missing path should be exercised over real HTTP. It answers
exactly what the prefetch templates and the Sandbox ask: `metadata`, instance reads, type searches by
GET and by POST `/_search` (form-encoded), searchset Bundles with `total`, a `self` link and a `next`
link when `_count` truncates (continued through `?_getpages=`, stateless: the token encodes the search).
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from datetime import date, datetime, timezone
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, url_for
from flask_cors import CORS

from . import fhir_search
from .store import RESOURCE_TYPES, store_for

FHIR_JSON = "application/fhir+json"
bp = Blueprint("demo_fhir", __name__, url_prefix="/demo/fhir")
# Any origin may read the demo data (the Sandbox runs on another port); no credentials are involved.
CORS(bp, origins="*", methods=["GET", "POST", "OPTIONS"],
     allow_headers=["Accept", "Authorization", "Content-Type", "Prefer"])


def today() -> date:
    """The service's 'today': its settings' clock (CDS_CLOCK) when present, else the UTC date."""
    settings = current_app.extensions.get("cds_settings") or current_app.config.get("CDS_SETTINGS")
    if settings is not None and hasattr(settings, "evaluation_date"):
        return settings.evaluation_date()
    clock = current_app.config.get("CDS_CLOCK") or os.environ.get("CDS_CLOCK")
    if clock:
        try:
            return date.fromisoformat(str(clock).strip()[:10])
        except ValueError:
            pass
    return datetime.now(timezone.utc).date()


def _fhir(body: dict, status: int = 200) -> Response:
    return _fhir_text(json.dumps(body, ensure_ascii=False), status)


def _fhir_text(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype=FHIR_JSON)


def bundle_text(head: dict, entries: list[tuple[str, str]]) -> str:
    """`json.dumps(head | {"entry": [...]}, ensure_ascii=False)` for entries given as (fullUrl, the
    resource's JSON text), with each resource's text encoded once by the store (`text_of`) instead
    of on every search. The same bytes: json.dumps writes a dict as '{' + ', '.join('key: value')
    + '}' and a list as '[' + ', '.join(items) + ']' at every level (no indent), so the pieces join
    as it would join them (tests/demo/test_fhir_search_index.py compares the two)."""
    items = ", ".join(f'{{"fullUrl": {json.dumps(url, ensure_ascii=False)}, "resource": {text}, '
                      f'"search": {{"mode": "match"}}}}' for url, text in entries)
    return f'{json.dumps(head, ensure_ascii=False)[:-1]}, "entry": [{items}]}}'


def outcome(status: int, code: str, text: str) -> Response:
    return _fhir({"resourceType": "OperationOutcome",
                  "issue": [{"severity": "error", "code": code, "diagnostics": text}]}, status)


def _base() -> str:
    return url_for("demo_fhir.capabilities", _external=True).rsplit("/metadata", 1)[0]


@bp.get("/metadata")
def capabilities() -> Response:
    search_params = {t: sorted(set(fhir_search.PARAMS[t]) | {"_id"}) for t in RESOURCE_TYPES}
    return _fhir({
        "resourceType": "CapabilityStatement",
        "status": "active", "date": today().isoformat(), "kind": "instance",
        "software": {"name": "omalizumab-cds demo FHIR server"},
        "implementation": {"description": "Read-only demo patients (synthetic data)", "url": _base()},
        "fhirVersion": "4.0.1", "format": ["json"],
        "rest": [{
            "mode": "server",
            "resource": [{
                "type": t,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [{"name": n, "type": "token" if n not in ("date", "authoredon",
                                 "onset-date", "recorded-date", "effective", "birthdate")
                                 else "date"} for n in search_params[t]],
            } for t in RESOURCE_TYPES],
        }],
    })


@bp.get("/<resource_type>/<resource_id>")
def read(resource_type: str, resource_id: str) -> Response:
    if resource_type not in RESOURCE_TYPES:
        return outcome(404, "not-supported", f"resource type {resource_type} is not served here")
    store = store_for(today())
    found = store.by_type.get(resource_type, {}).get(resource_id)
    if found is None:
        return outcome(404, "not-found", f"{resource_type}/{resource_id} is not known")
    return _fhir_text(store.text_of(found))


def _encode_search(resource_type: str, params: list[tuple[str, str]]) -> str:
    raw = json.dumps([resource_type, params], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_search(token: str) -> tuple[str, list[tuple[str, str]]]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        resource_type, params = json.loads(raw)
        return str(resource_type), [(str(k), str(v)) for k, v in params]
    except (binascii.Error, ValueError, TypeError):
        raise fhir_search.SearchError("_getpages token is not valid") from None


def _searchset(resource_type: str, params: list[tuple[str, str]]) -> Response:
    if resource_type not in RESOURCE_TYPES:
        return outcome(404, "not-supported", f"resource type {resource_type} is not served here")
    store = store_for(today())
    try:
        result = fhir_search.search(store.index_of(resource_type), resource_type, params)
    except fhir_search.SearchError as exc:
        return outcome(400, "not-supported", str(exc))
    base = _base()
    criteria = [(k, v) for k, v in params if k != "_getpagesoffset"]
    links = [{"relation": "self", "url": f"{base}/{resource_type}?{urlencode(criteria)}"
              if result.offset == 0 else
              f"{base}?{urlencode({'_getpages': _encode_search(resource_type, criteria), '_getpagesoffset': result.offset, '_count': result.count})}"}]
    if result.has_next and result.count > 0:
        query = {"_getpages": _encode_search(resource_type, criteria),
                 "_getpagesoffset": result.offset + result.count, "_count": result.count}
        links.append({"relation": "next", "url": f"{base}?{urlencode(query)}"})
    return _fhir_text(bundle_text({
        "resourceType": "Bundle", "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "type": "searchset", "total": len(result.matches), "link": links,
    }, [(f"{base}/{r['resourceType']}/{r['id']}", store.text_of(r)) for r in result.page]))


def _query_params() -> list[tuple[str, str]]:
    return [(k, v) for k, values in request.args.lists() for v in values]


@bp.get("/<resource_type>")
def search_get(resource_type: str) -> Response:
    return _searchset(resource_type, _query_params())


@bp.post("/<resource_type>/_search")
def search_post(resource_type: str) -> Response:
    form = [(k, v) for k, values in request.form.lists() for v in values]
    return _searchset(resource_type, _query_params() + form)


@bp.get("")
@bp.get("/")
def continue_paging() -> Response:
    """`?_getpages=<token>&_getpagesoffset=N&_count=N`: the next page of an earlier search."""
    token = request.args.get("_getpages")
    if not token:
        return outcome(400, "required", "use /metadata, /<Type>/<id> or /<Type>?params")
    try:
        resource_type, params = _decode_search(token)
    except fhir_search.SearchError as exc:
        return outcome(400, "invalid", str(exc))
    extra = [(k, v) for k, v in _query_params() if k in ("_getpagesoffset", "_count")]
    params = [(k, v) for k, v in params if k != "_count"] + extra
    return _searchset(resource_type, params)


@bp.route("/<path:anything>", methods=["PUT", "DELETE", "PATCH"])
@bp.post("/<resource_type>")
def read_only(**_: str) -> Response:
    return outcome(405, "not-supported", "the demo FHIR server is read-only")
