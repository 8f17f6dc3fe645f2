"""Reading and checking what a CDS client sends, before any clinical code sees it.

`read_json_body` enforces the transport rules (JSON content type: 415; size: 413 through Flask's
MAX_CONTENT_LENGTH; syntax, NaN/Infinity and nesting depth: 400).  `hook_request_problems` and
`feedback_problems` return every problem found (not only the first), so a 400 names them all.
Field rules follow CDS Hooks 2.0 (Calling a CDS Service, Passing the Access Token, Feedback) and the
hook library's context tables for patient-view, order-select and order-sign.
"""
from __future__ import annotations

import json
import math
import re

import orjson
from datetime import datetime
from itertools import chain, compress, repeat
from typing import Any

from flask import Request

from .errors import ApiError

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
RELATIVE_REF = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")
# RFC 3339 date-time (CDS Hooks feedback outcomeTimestamp); the same pattern is in openapi.json
RFC3339 = re.compile(
    r"^(?!0000)\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?"
    r"([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CONTAINERS = (dict, list)
HTTP_URL = re.compile(r"^https?://[^/?#@\s]+(/[^?#\s]*)?$", re.IGNORECASE)

USER_TYPES = {
    "patient-view": ("Practitioner", "PractitionerRole", "Patient", "RelatedPerson"),
    "order-select": ("Practitioner", "PractitionerRole"),
    "order-sign": ("Practitioner", "PractitionerRole"),
}


def is_json_mimetype(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/")
                                              and mimetype.endswith("+json"))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    """JSON numbers beyond the double range (1e999) would become inf: refuse them (RFC 8259 §6)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """True when containers nest deeper than `limit` (iterative: no recursion on hostile input)."""
    # level by level, keeping only containers (a 1 MB prefetch: 5 ms instead of 9 ms); the
    # flattening and the container filter run in C (chain, compress, map(isinstance)): the 15 KB
    # bench request 0.09 -> 0.06 ms
    level = [value] if isinstance(value, _CONTAINERS) else []
    depth = 1
    while level:
        if depth > limit:
            return True
        values = list(chain.from_iterable([item.values() if isinstance(item, dict) else item
                                           for item in level]))
        level = list(compress(values, map(isinstance, values, repeat(_CONTAINERS))))
        depth += 1
    return False


def read_json_body(request: Request, *, max_depth: int) -> Any:
    """The request body as JSON, or an ApiError (415/400).  Oversize bodies raise 413 in Flask.

    A Content-Type of exactly `application/json` (what most clients send) is JSON without werkzeug's
    header parse (`request.mimetype`, ~8,000 instructions); any other value goes through it."""
    if (request.environ.get("CONTENT_TYPE") != "application/json"
            and not is_json_mimetype(request.mimetype or "")):
        raise ApiError(415, "unsupported media type: send application/json",
                       [f"Content-Type was {request.mimetype or 'missing'!r}"])
    raw = request.get_data(cache=True)
    if not raw:
        raise ApiError(400, "invalid request", ["request body is empty"])
    text = raw[3:] if raw.startswith(_BOM) else raw
    scan = _scan(text)  # one C pass over the body serves the digit guard and the depth check
    body = SLOW if _LONG_DIGIT_RUN in scan else _orjson_or_slow(text)
    if body is SLOW:
        try:
            decoded = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ApiError(400, "invalid request", ["request body is not UTF-8"]) from None
        body = _strict_loads(decoded, max_depth)
    if _marks_depth_exceeds(scan.translate(None, _NOT_MARKS), max_depth):
        raise ApiError(400, "invalid request", [f"JSON nested deeper than {max_depth} levels"])
    return body


SLOW = object()
_BOM = b"\xef\xbb\xbf"
_LONG_DIGIT_RUN = b"0" * 19


def _scan_table() -> tuple[bytes, bytes]:
    """`_scan`'s translate table and delete set: digits -> '0', '[' and '{' -> '{', ']' and '}' ->
    '}', '"' kept, other ASCII punctuation (backslashes too: a `\\u00e9` escape stays apart from
    its neighbours) and control bytes -> ',' (a separator, so digit runs stay apart); letters,
    whitespace and non-ASCII bytes deleted (two thirds of a hook request's bytes)."""
    table = bytearray(b"," * 256)
    table[ord("0"):ord("9") + 1] = b"0" * 10
    for src, dst in ((b"[", b"{"), (b"{", b"{"), (b"]", b"}"), (b"}", b"}"), (b'"', b'"')):
        table[src[0]] = dst[0]
    delete = bytes(c for c in range(256)
                   if chr(c).isascii() and chr(c).isalpha() or c in b" \t\n\r" or c >= 0x80)
    return bytes(table), delete


_SCAN_TABLE, _SCAN_DELETE = _scan_table()
_NOT_MARKS = b"0,"  # in `_scan`'s output: what is neither a bracket nor a quote


def _scan(raw: bytes) -> bytes:
    """The body reduced to digits ('0'), separators (','), brackets ('{' '}') and string quotes, in
    C (one `bytes.translate`; ~10 instructions a byte).

    Escaped backslashes, then escaped quotes, are dropped first (only when the body has a
    backslash), so every '"' left delimits a string in valid JSON.  Deleting bytes never splits a run
    of digits, it can only join two (letters or escapes between them): so `_LONG_DIGIT_RUN` in the
    scan is a sound guard for a run of 19 digits in the body, which at worst sends a rare body
    through the stdlib parse for nothing.
    """
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    return raw.translate(_SCAN_TABLE, _SCAN_DELETE)


def valid_json_depth_exceeds(raw: bytes, limit: int) -> bool:
    """`json_depth_exceeds` for the UTF-8 text of a document already parsed as valid JSON, on the
    bytes with C-speed operations only (tests/service/test_json_fast_parse.py checks that they
    agree)."""
    return _marks_depth_exceeds(_scan(raw).translate(None, _NOT_MARKS), limit)


def _marks_depth_exceeds(marks: bytes, limit: int) -> bool:
    """The depth check on a valid document's brackets and string quotes (as `_scan` leaves them,
    every bracket written '{' or '}': JSON balanced them, so their kind does not matter).

    First a bound that needs no pass per string (`_leaf_bound_within`, ~80,000 instructions for
    the 15 KB bench request instead of ~160,000); where it cannot decide, `_strings_cut_depth_exceeds`,
    the general check, decides.
    """
    if _leaf_bound_within(marks, limit):
        return False
    return _strings_cut_depth_exceeds(marks, limit)


def _leaf_bound_within(marks: bytes, limit: int) -> bool:
    """True when the document provably nests at most `limit` deep; False when it cannot tell.

    Every adjacent '{}' is removed first: inside a string (the usual case of brackets in a string,
    "IgE [Mass/volume] in Serum", "[IU]/mL") that is string content, outside a container holding
    no container or string, whose removal lowers the depth by at most one (`replace` does not rescan
    what it joined). If then every run of quotes has even length, which `count('""')` tells
    (it pairs quotes left to right as the string delimiters pair them), no string holds a bracket
    any more (its opening quote would end an odd run), so the brackets without the quotes are the
    document's, less those leaves: their depth within `limit - 1` bounds the document's by `limit`.
    """
    leaves_cut = marks.replace(b"{}", b"")
    brackets = leaves_cut.translate(None, b'"')
    if leaves_cut.count(b'""') * 2 != len(leaves_cut) - len(brackets):
        return False  # a string holds a bracket
    return _depth_within(brackets, limit - 1)


def _strings_cut_depth_exceeds(marks: bytes, limit: int) -> bool:
    """Adjacent quote pairs are dropped (they delimit strings without brackets, or join two strings
    into one span that is still all string content); any quotes left enclose string content, cut
    out by a split. Then `_depth_within` bounds the depth; only a body it cannot clear gets the
    exact count."""
    marks = marks.replace(b'""', b"")
    if b'"' in marks:
        marks = b"".join(marks.split(b'"')[::2])
    if _depth_within(marks, limit):
        return False
    return _exact_depth_exceeds(marks, limit)


def _depth_within(brackets: bytes, bound: int) -> bool:
    """True when balanced `brackets` ('{' and '}' only) provably nest at most `bound` deep, a chunk
    at a time: inside a chunk the depth cannot pass the depth at the chunk's start plus the chunk's
    '{' count, and the depth at its end is exact. False for a body that comes within a chunk's
    width of `bound` (then `_exact_depth_exceeds`, where each `replace('{}', '')` pass removes
    exactly one nesting level: replace does not rescan its output)."""
    if bound < 0:
        return False
    depth = 0
    for start in range(0, len(brackets), _CHUNK):
        chunk = brackets[start:start + _CHUNK]
        opens = chunk.count(b"{")
        if depth + opens > bound:
            return False
        depth += opens + opens - len(chunk)
    return True


_CHUNK = 64  # a hook request (~650 brackets) in ~10 chunks; its depth (~10) plus a chunk's '{' (~32) stays under 64


def _exact_depth_exceeds(brackets: bytes, limit: int) -> bool:
    depth = 0
    while brackets:
        depth += 1
        if depth > limit:
            return True
        brackets = brackets.replace(b"{}", b"")
    return False


def fast_loads(raw: bytes) -> Any:
    """orjson's parse (about twice the stdlib's speed on a 15 KB hook request) where it is provably
    the stdlib's answer, else `SLOW` (`read_json_body` inlines this, sharing `_scan` with the depth
    check).

    orjson refuses everything `_strict_loads` refuses (NaN, Infinity, numbers beyond the double
    range) but also lone surrogates, and it reads an integer beyond 64 bits as a float: so any
    refusal, and any body holding a run of 19 or more digits (in a string or not: a cheap, sound
    guard), goes through the stdlib instead, which gives the same result and error text as before.
    """
    if raw.startswith(_BOM):
        raw = raw[3:]
    if _LONG_DIGIT_RUN in _scan(raw):
        return SLOW
    return _orjson_or_slow(raw)


def _orjson_or_slow(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return SLOW


def _strict_loads(text: str, max_depth: int) -> Any:
    """The stdlib parse with the transport rules: its error texts are the ones clients see."""
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ApiError(400, "invalid request", [f"JSON nested deeper than {max_depth} levels"]) from None
    except ValueError as exc:
        raise ApiError(400, "invalid request", [f"body is not valid JSON: {exc}"[:300]]) from None


def _is_str(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_uuid(value: Any) -> bool:
    """The canonical 8-4-4-4-12 hex form (what CDS clients send for hookInstance)."""
    return isinstance(value, str) and UUID_RE.match(value) is not None


def _check_url(value: Any, name: str, problems: list[str]) -> None:
    from urllib.parse import urlsplit

    if not _is_str(value):
        problems.append(f"{name}: must be a non-empty string (an absolute URL)")
        return
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        problems.append(f"{name}: must be an absolute http(s) URL")
        return
    if not HTTP_URL.match(value) or not host:
        problems.append(f"{name}: must be an absolute http(s) URL without credentials, query or fragment")


def _check_fhir_authorization(auth: Any, problems: list[str]) -> None:
    name = "fhirAuthorization"
    if not isinstance(auth, dict):
        problems.append(f"{name}: must be an object")
        return
    if not _is_str(auth.get("access_token")):
        problems.append(f"{name}.access_token: required non-empty string")
    if auth.get("token_type") != "Bearer":
        problems.append(f"{name}.token_type: required, must be 'Bearer'")
    if not _is_int(auth.get("expires_in")) or auth.get("expires_in") < 0:
        problems.append(f"{name}.expires_in: required non-negative integer (seconds)")
    if not _is_str(auth.get("scope")):
        problems.append(f"{name}.scope: required non-empty string")
    if not _is_str(auth.get("subject")):
        problems.append(f"{name}.subject: required non-empty string (the service's client id)")
    if "patient" in auth and not (isinstance(auth["patient"], str) and FHIR_ID.match(auth["patient"])):
        problems.append(f"{name}.patient: must be a FHIR id")


def _bundle_problems(bundle: Any, name: str, problems: list[str]) -> set[str]:
    """Check a draftOrders Bundle; return the 'Type/id' references of its entries."""
    refs: set[str] = set()
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        problems.append(f"{name}: must be a FHIR Bundle (resourceType 'Bundle')")
        return refs
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        problems.append(f"{name}.entry: must be an array")
        return refs
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not _is_str(resource.get("resourceType")):
            problems.append(f"{name}.entry[{i}].resource: must be a FHIR resource with a resourceType")
            continue
        rid = resource.get("id")
        if rid is not None and not (isinstance(rid, str) and FHIR_ID.match(rid)):
            problems.append(f"{name}.entry[{i}].resource.id: must be a FHIR id")
            continue
        if rid:
            refs.add(f"{resource['resourceType']}/{rid}")
    return refs


def _check_context(hook: str, context: Any, problems: list[str]) -> None:
    if not isinstance(context, dict):
        problems.append("context: required object")
        return
    user = context.get("userId")
    if not isinstance(user, str) or not RELATIVE_REF.match(user):
        problems.append("context.userId: required, 'Type/id' (e.g. 'Practitioner/123')")
    elif hook in USER_TYPES and user.split("/", 1)[0] not in USER_TYPES[hook]:
        problems.append(f"context.userId: for {hook} must be one of {', '.join(USER_TYPES[hook])}")
    patient = context.get("patientId")
    if not isinstance(patient, str) or not FHIR_ID.match(patient):
        problems.append("context.patientId: required FHIR id")
    if "encounterId" in context:
        enc = context["encounterId"]
        if not isinstance(enc, str) or not FHIR_ID.match(enc):
            problems.append("context.encounterId: must be a FHIR id")
    if hook in ("order-select", "order-sign"):
        if "draftOrders" not in context:
            problems.append(f"context.draftOrders: required for {hook}")
            refs: set[str] = set()
        else:
            refs = _bundle_problems(context["draftOrders"], "context.draftOrders", problems)
        if hook == "order-select":
            selections = context.get("selections")
            if not isinstance(selections, list) or not selections:
                problems.append("context.selections: required non-empty array for order-select")
            else:
                for i, sel in enumerate(selections):
                    if not isinstance(sel, str) or not RELATIVE_REF.match(sel):
                        problems.append(f"context.selections[{i}]: must be 'Type/id'")
                    elif isinstance(context.get("draftOrders"), dict) and sel not in refs:
                        problems.append(f"context.selections[{i}]: {sel} is not in context.draftOrders")


def _check_prefetch(prefetch: Any, patient_id: Any, problems: list[str]) -> None:
    if not isinstance(prefetch, dict):
        problems.append("prefetch: must be an object")
        return
    for key, value in prefetch.items():
        if value is None:
            continue  # "no data" (spec), not an error
        if type(value) is dict:  # what a parsed body holds: `_is_str` inline for a plain str
            rtype = value.get("resourceType")
            if type(rtype) is str and rtype.strip():
                continue
        if not isinstance(value, dict) or not _is_str(value.get("resourceType")):
            problems.append(f"prefetch.{key}: must be a FHIR resource, a Bundle, or null")
    patient = prefetch.get("patient")
    if (isinstance(patient, dict) and patient.get("resourceType") == "Patient"
            and isinstance(patient_id, str) and patient.get("id") not in (None, patient_id)):
        # Data about another patient must never reach the clinical logic.
        problems.append("prefetch.patient: Patient.id does not match context.patientId")


def hook_request_problems(body: Any, allowed_hooks: tuple[str, ...]) -> list[str]:
    """Every problem with a service-call body (empty list when it is valid)."""
    if not isinstance(body, dict):
        return ["body: must be a JSON object"]
    problems: list[str] = []
    hook = body.get("hook")
    if not _is_str(hook):
        problems.append("hook: required string")
    elif hook not in allowed_hooks:
        problems.append(f"hook: this service answers {', '.join(allowed_hooks)}, not {hook!r}")
    if not is_uuid(body.get("hookInstance")):
        problems.append("hookInstance: required UUID")
    if "fhirServer" in body:
        _check_url(body["fhirServer"], "fhirServer", problems)
    if "fhirAuthorization" in body:
        if "fhirServer" not in body:
            problems.append("fhirAuthorization: requires fhirServer")
        _check_fhir_authorization(body["fhirAuthorization"], problems)
    if "context" not in body:
        problems.append("context: required object")
    elif isinstance(hook, str) and hook in allowed_hooks:
        _check_context(hook, body["context"], problems)
    elif not isinstance(body["context"], dict):
        problems.append("context: required object")
    if "prefetch" in body:
        context = body.get("context") if isinstance(body.get("context"), dict) else {}
        _check_prefetch(body["prefetch"], context.get("patientId"), problems)
    if "extension" in body and not isinstance(body["extension"], dict):
        problems.append("extension: must be an object")
    return problems


def parse_timestamp(value: str) -> datetime | None:
    if not isinstance(value, str) or not RFC3339.match(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None


# One POST carries the outcomes a clinician produced on a few cards; a bound keeps one request from
# holding a worker and a database transaction for seconds (40,000 entries took ~11 s on SQLite).
MAX_FEEDBACK_ENTRIES = 500


def feedback_problems(body: Any) -> list[str]:
    """Every problem with a feedback body (`{"feedback": [...]}`, CDS Hooks 2.0 Feedback)."""
    if not isinstance(body, dict):
        return ["body: must be a JSON object"]
    items = body.get("feedback")
    if not isinstance(items, list) or not items:
        return ["feedback: required non-empty array"]
    if len(items) > MAX_FEEDBACK_ENTRIES:
        return [f"feedback: at most {MAX_FEEDBACK_ENTRIES} entries per request (send several requests)"]
    problems: list[str] = []
    for i, item in enumerate(items):
        name = f"feedback[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{name}: must be an object")
            continue
        if not _is_str(item.get("card")):
            problems.append(f"{name}.card: required (the card's uuid)")
        elif len(item["card"]) > 200:
            problems.append(f"{name}.card: too long")
        outcome = item.get("outcome")
        if outcome not in ("accepted", "overridden"):
            problems.append(f"{name}.outcome: must be 'accepted' or 'overridden'")
        accepted = item.get("acceptedSuggestions")
        if outcome == "accepted":
            if not isinstance(accepted, list) or not accepted:
                problems.append(f"{name}.acceptedSuggestions: required non-empty array when accepted")
        if "acceptedSuggestions" in item:
            if not isinstance(accepted, list):
                problems.append(f"{name}.acceptedSuggestions: must be an array")
            else:
                for j, sug in enumerate(accepted):
                    if not isinstance(sug, dict) or not _is_str(sug.get("id")) or len(sug["id"]) > 200:
                        problems.append(f"{name}.acceptedSuggestions[{j}].id: required string")
        if "overrideReason" in item:
            reason = item["overrideReason"]
            if not isinstance(reason, dict):
                problems.append(f"{name}.overrideReason: must be an object")
            else:
                coding = reason.get("reason")
                comment = reason.get("userComment")
                if "reason" not in reason and "userComment" not in reason:
                    problems.append(f"{name}.overrideReason: needs reason and/or userComment")
                if "reason" in reason:
                    if (not isinstance(coding, dict) or not _is_str(coding.get("code"))
                            or not _is_str(coding.get("system"))):
                        problems.append(f"{name}.overrideReason.reason: a Coding with code and system")
                    elif "display" in coding and not isinstance(coding["display"], str):
                        problems.append(f"{name}.overrideReason.reason.display: must be a string")
                if "userComment" in reason and not isinstance(comment, str):
                    problems.append(f"{name}.overrideReason.userComment: must be a string")
                elif isinstance(comment, str) and len(comment) > 4000:
                    problems.append(f"{name}.overrideReason.userComment: longer than 4000 characters")
        if parse_timestamp(item.get("outcomeTimestamp")) is None:
            problems.append(f"{name}.outcomeTimestamp: required ISO 8601 date-time with time zone")
    return problems


def relative_ref(value: Any) -> tuple[str, str] | None:
    if isinstance(value, str):
        m = RELATIVE_REF.match(value)
        if m:
            return m.group(1), m.group(2)
    return None
