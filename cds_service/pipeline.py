"""One hook request in, `{"cards": [...]}` out: the seam between HTTP and the clinical layers.

`evaluate` completes the prefetch (fetching missing or failed keys within the time budget), turns
FHIR JSON into facts (`fhir_mappings`), lets the clinical core decide (`clinical_core`), and renders
cards (`cards`).  It knows nothing about Flask requests, so the CLI (`omalizumab-cds evaluate`) and
tests run exactly the code the service runs.  Required data that is neither sent nor obtainable
raises `PrefetchUnavailable` (the HTTP layer answers 412).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from collections.abc import Callable, Mapping  # isinstance on typing.Mapping is ~10x slower
from typing import Any

from flask import current_app, has_app_context

from .errors import PrefetchUnavailable
from .fhir_client import FhirClient, NoFhirAccess, as_list, new_session
from .prefetch import PrefetchOutcome, complete_prefetch
from .settings import Settings, normalize_base_url
from .signals import fhir_fetch, send_safely
from .validation import relative_ref

log = logging.getLogger("cds_service.pipeline")


@dataclass
class EvaluationInfo:
    """What happened during one evaluation (for logs and the card log; no PHI beyond ids)."""

    unavailable: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    fetched_keys: list[str] = field(default_factory=list)


def client_for_request(request_json: Mapping[str, Any], settings: Settings, *,
                       allowed_bases: tuple[str, ...], session=None, executor=None):
    """A FhirClient for the request's fhirServer, or NoFhirAccess saying why not.

    The caller has already refused a fhirServer outside `allowed_bases` (HTTP layer); this checks
    again so no path can reach an unlisted server.  `allowed_bases` are normalized (as Settings and
    the issuers hold them); an unnormalized base only refuses more.
    """
    base = request_json.get("fhirServer")
    if not isinstance(base, str) or not base:
        return NoFhirAccess("no fhirServer in the request")
    if normalize_base_url(base) not in allowed_bases:
        return NoFhirAccess("fhirServer is not an allowed FHIR base")
    auth = request_json.get("fhirAuthorization")
    token = auth.get("access_token") if isinstance(auth, Mapping) else None
    if not token and not settings.allow_open_fhir:
        return NoFhirAccess("no fhirAuthorization and open FHIR access is not enabled")
    return FhirClient(base, token=token or None, session=session or new_session(),
                      settings=settings, executor=executor)


def _index_resources(data: Mapping[str, Any], draft_orders: Any) -> dict[str, dict]:
    """'Type/id' -> resource for everything already at hand (prefetch, drafts, contained); the
    resources themselves, not copies (nothing downstream writes to them)."""
    index: dict[str, dict] = {}

    def add(resource: Any) -> None:
        if not isinstance(resource, Mapping):
            return
        rtype, rid = resource.get("resourceType"), resource.get("id")
        if rtype == "Bundle":
            for entry in as_list(resource.get("entry")):
                if isinstance(entry, Mapping):
                    add(entry.get("resource"))
            return
        if isinstance(rtype, str) and isinstance(rid, str):
            index.setdefault(f"{rtype}/{rid}", resource)  # the mappings only read resources

    for value in data.values():
        add(value)
    add(draft_orders)
    return index


def _resolver(data: Mapping[str, Any], draft_orders: Any, client, deadline: float, fhir_base: str | None
              ) -> Callable[[str], dict | None]:
    """reference -> resource: what is already at hand (prefetch, drafts), else a read from the FHIR
    server.  The index of what is at hand is built on the first reference that needs resolving:
    most requests resolve none (medications coded inline), and indexing every resource of the
    prefetch cost more than a tenth of the mappings' time."""
    index: dict[str, dict] | None = None
    cache: dict[str, dict | None] = {}
    prefix = fhir_base.rstrip("/") + "/" if fhir_base else None

    def resolve(reference: str) -> dict | None:
        nonlocal index
        if not isinstance(reference, str):
            return None
        ref = reference
        if prefix and ref.startswith(prefix):
            ref = ref[len(prefix):]
        if relative_ref(ref) is None:
            return None  # contained (#id) and foreign absolute references are the mapper's job
        if index is None:
            index = _index_resources(data, draft_orders)
        if ref in index:
            return index[ref]
        if ref not in cache:
            cache[ref] = client.read(ref, deadline=deadline) if client else None
        return cache[ref]

    return resolve


def _drafts_by_reference(draft_orders: Any) -> dict[str, dict]:
    drafts: dict[str, dict] = {}
    if isinstance(draft_orders, Mapping):
        for entry in as_list(draft_orders.get("entry")):
            res = entry.get("resource") if isinstance(entry, Mapping) else None
            if isinstance(res, Mapping) and res.get("resourceType") == "MedicationRequest" and res.get("id"):
                drafts[f"MedicationRequest/{res['id']}"] = dict(res)
    return drafts


def _emit_fetch_signals(outcome: PrefetchOutcome) -> None:
    if not outcome.fetched or not has_app_context():  # nothing fetched; the CLI and warm-up: no app
        return
    sender = current_app._get_current_object()
    for key, result in outcome.fetched.items():
        send_safely(fhir_fetch, sender, key=key, duration_s=result.duration_s, ok=result.ok)


def evaluate(request_json: dict, *, settings: Settings, fhir_client=None, now=None,
             info: EvaluationInfo | None = None) -> dict:
    """Run one validated hook request through mappings, core and cards; return the response body.

    `fhir_client`: a FhirClient / NoFhirAccess chosen by the caller; None builds one from the
    request and `settings` (CLI use: bases from CDS_ALLOWED_FHIR_SERVERS, plus demo base in demo).
    `now`: a date or datetime used as the evaluation date (else CDS_CLOCK, else today UTC).
    """
    import cards as cards_layer
    import clinical_core
    import fhir_mappings

    started = time.monotonic()
    deadline = started + settings.fhir_budget_seconds
    info = info if info is not None else EvaluationInfo()
    hook = request_json["hook"]
    context = request_json.get("context") or {}
    patient_id = context["patientId"]
    if fhir_client is None:
        fhir_client = client_for_request(request_json, settings,
                                         allowed_bases=settings.fhir_servers_without_issuer())

    outcome = complete_prefetch(fhir_mappings.prefetch_templates(), request_json.get("prefetch"), context,
                                fhir_client, deadline=deadline)
    _emit_fetch_signals(outcome)
    info.unavailable = list(outcome.unavailable)
    info.reasons = dict(outcome.reasons)
    info.fetched_keys = sorted(outcome.fetched)
    if outcome.reasons:
        log.info(json.dumps({"event": "prefetch_incomplete", "hookInstance": request_json.get("hookInstance"),
                             "reasons": outcome.reasons}, sort_keys=True))

    missing_required = [k for k in fhir_mappings.REQUIRED_PREFETCH_KEYS if k in outcome.unavailable]
    for key in fhir_mappings.REQUIRED_PREFETCH_KEYS:
        # the server read it and says it does not exist (404/410): the context names a Patient the
        # server does not have, which is "not obtainable" too, not a patient without data
        fetched = outcome.fetched.get(key)
        if key not in missing_required and fetched is not None and fetched.ok and outcome.data.get(key) is None:
            missing_required.append(key)
            outcome.reasons[key] = "; ".join(fetched.notes) or "not found on fhirServer"
    if missing_required:
        raise PrefetchUnavailable(missing_required,
                                  [f"{k}: {outcome.reasons.get(k, 'unavailable')}" for k in missing_required])

    draft_orders = context.get("draftOrders")
    resolve = _resolver(outcome.data, draft_orders, fhir_client, deadline, getattr(fhir_client, "base_url", None))
    evaluation_date = settings.evaluation_date(now)
    if isinstance(evaluation_date, datetime):  # pragma: no cover - defensive
        evaluation_date = evaluation_date.date()
    assert isinstance(evaluation_date, date)

    facts = fhir_mappings.extract_facts(outcome.data, patient_id=patient_id,
                                        evaluation_date=evaluation_date,
                                        unavailable=tuple(outcome.unavailable),
                                        resolve_reference=resolve)
    assessment = clinical_core.assess(facts, region=settings.region)
    decisions = list(assessment.decisions)
    drafts_json: dict[str, dict] | None = None
    if hook in ("order-select", "order-sign"):
        drafts = fhir_mappings.extract_draft_orders(draft_orders, context.get("selections"), hook=hook,
                                                    resolve_reference=resolve)
        decisions = list(clinical_core.check_orders(facts, drafts, hook=hook, assessment=assessment,
                                                    region=settings.region))
        drafts_json = _drafts_by_reference(draft_orders)
    # build_cards refuses (cards/validation.py) any card holding null, an empty or blank string, an
    # empty list or object: its cards already follow the CDS Hooks JSON rule strip_empty enforces
    return {"cards": cards_layer.build_cards(decisions, hook=hook, patient_id=patient_id, drafts=drafts_json)}


def strip_empty(value: Any) -> Any:
    """Drop None and empty strings/lists/objects (CDS Hooks 2.0, Use of JSON)."""
    cls = type(value)
    if cls is str or cls is int or cls is bool or cls is float or value is None:
        return value  # leaves first: most values are, and an ABC isinstance costs ~0.2 us each
    if cls is dict or isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            v = strip_empty(v)
            if v is None or v == "" or v == [] or v == {}:
                continue
            out[k] = v
        return out
    if cls is list or isinstance(value, (list, tuple)):
        items = [strip_empty(v) for v in value]
        return [v for v in items if not (v is None or v == "" or v == [] or v == {})]
    return value
