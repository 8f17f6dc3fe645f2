"""Prefetch templates: rendering tokens and completing what the client did not send.

CDS Hooks 2.0 (Prefetch Template, Prefetch tokens): a key that is absent, or whose value is an
OperationOutcome, is fetched from fhirServer; `null` means "queried, no data" and is not refetched;
a Bundle with a `next` link is paged.  Tokens are `{{context.<primitive field>}}` and the user tokens
derived from context.userId (`userPractitionerId`, ...).  A template whose token cannot be filled is
not fetched (the key stays unavailable).

When the service runs a search itself, a bare patient id in a `patient` or `subject` parameter is
sent as `Patient/<id>` (`qualify_patient_references`). FHIR R4 allows both spellings, but not every
server matches the bare one: Medplum's in-memory engine answers `patient=<id>` with an empty
searchset, 200 OK, which would read as "no IgE, no weight, no conditions" and give no card at all.
`Patient/<id>` is the reference's own spelling and every server tried matches it (tests/integration).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from collections.abc import Mapping  # isinstance on typing.Mapping is ~10x slower
from typing import Any
from urllib.parse import quote

from .fhir_client import FetchResult, is_operation_outcome, _next_link

TOKEN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


PATIENT_REFERENCE_PARAMS = frozenset({"patient", "subject"})


def qualify_patient_references(query: str) -> str:
    """`Type?patient=<id>` -> `Type?patient=Patient/<id>` (also `subject`, each comma alternative);
    values that already name a type (`Patient/1`, an absolute URL) and every other parameter are
    left exactly as rendered."""
    path, sep, qs = query.partition("?")
    if not sep or not qs:
        return query
    parts = []
    for part in qs.split("&"):
        name, eq, value = part.partition("=")
        if eq and name in PATIENT_REFERENCE_PARAMS and value:
            value = ",".join(v if (not v or "/" in v or "%2F" in v.upper()) else f"Patient/{v}"
                             for v in value.split(","))
            part = f"{name}={value}"
        parts.append(part)
    return f"{path}?{'&'.join(parts)}"


def render_template(template: str, context: Mapping[str, Any]) -> str | None:
    """Fill the tokens of one template, or None when a token has no value."""
    missing = False

    def substitute(match: re.Match) -> str:
        nonlocal missing
        name = match.group(1)
        value: Any = None
        if name.startswith("context."):
            value = context.get(name[len("context."):])
        elif name in USER_TOKENS:
            user = context.get("userId")
            if isinstance(user, str) and "/" in user:
                rtype, rid = user.split("/", 1)
                if rtype == USER_TOKENS[name]:
                    value = rid
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value == "":
            missing = True
            return ""
        # context.userId is 'Type/id': keep the slash so `{{context.userId}}` works as a read path
        return quote(str(value), safe="/")

    rendered = TOKEN.sub(substitute, template)
    return None if missing else rendered


_ABSENT = object()  # a key the client did not send (None is a value: "no data")


@dataclass
class PrefetchOutcome:
    data: dict[str, Any]
    unavailable: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # key -> why unavailable (safe to log)
    fetched: dict[str, FetchResult] = field(default_factory=dict)


def complete_prefetch(templates: Mapping[str, str], prefetch: Mapping[str, Any] | None,
                      context: Mapping[str, Any], client, *, deadline: float) -> PrefetchOutcome:
    """Merge what the client sent with what the FHIR server supplies for the missing keys."""
    if type(prefetch) is dict:
        sent = prefetch
    elif isinstance(prefetch, Mapping):  # any other Mapping: as a dict, for the one `get` per key below
        sent = dict(prefetch)
    else:
        sent = {}
    data: dict[str, Any] = {}
    queries: dict[str, str] = {}
    continuations: dict[str, dict] = {}
    outcome = PrefetchOutcome(data=data)
    pages = bool(client)  # only a client can read further pages: then look for `next` links
    for key, template in templates.items():
        # one lookup per key, and no ABC isinstance on the plain dicts a parsed body holds: the loop
        # over the 12 keys cost ~120,000 instructions a request, now ~40,000
        value = sent.get(key, _ABSENT)
        if value is None:
            data[key] = None  # "no data": do not refetch
            continue
        if type(value) is dict:  # `is_operation_outcome` inline for the plain dicts a parsed body holds
            usable = value.get("resourceType") != "OperationOutcome"
        else:
            usable = value is not _ABSENT and not is_operation_outcome(value)
        if usable:
            data[key] = value
            if (pages and (type(value) is dict or isinstance(value, Mapping))
                    and value.get("resourceType") == "Bundle" and _next_link(value)):
                continuations[key] = dict(value)
            continue
        query = render_template(template, context)
        if query is None:
            outcome.unavailable.append(key)
            outcome.reasons[key] = "template token could not be filled from the context"
            continue
        queries[key] = qualify_patient_references(query)
    if queries or continuations:
        results = client.fetch_many(queries, deadline=deadline, continuations=continuations)
        for key, result in results.items():
            outcome.fetched[key] = result
            if result.ok:
                data[key] = result.value
                if result.partial:
                    # usable but incomplete: the data is used and the answer says it is partial
                    outcome.unavailable.append(key)
                    outcome.reasons[key] = "; ".join(result.notes) or "incomplete"
            elif key in continuations:
                # keep the first page the client sent; the rest could not be read: a partial answer
                outcome.unavailable.append(key)
                outcome.reasons[key] = f"further pages unavailable: {result.reason}"
            else:
                outcome.unavailable.append(key)
                outcome.reasons[key] = result.reason or "unavailable"
    return outcome
