"""The CDS Hooks endpoints: discovery, service calls and feedback (blueprint `cds`).

Each view is short: read and validate (validation.py), check the caller may use the fhirServer it
sent (issuer's `fhir_servers`, or CDS_ALLOWED_FHIR_SERVERS when auth is off), run the evaluator
(pipeline.evaluate unless a test injected one), record the cards, answer.  Authentication runs
before every view of this blueprint (auth.py) except CORS preflights.
"""
from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from . import services
from .errors import ApiError, PrefetchUnavailable
from .pipeline import EvaluationInfo, client_for_request, evaluate, strip_empty
from .settings import Settings, normalize_base_url
from .signals import hook_evaluated, send_safely
from .validation import hook_request_problems, read_json_body

bp = Blueprint("cds", __name__)
_UNSET = object()


def settings() -> Settings:
    return current_app.extensions["cds_settings"]


@bp.before_request
def _authenticate() -> None:
    req = request._get_current_object()
    if req.method == "OPTIONS":
        return  # CORS preflight carries no credentials (flask-cors answers it)
    authenticator = current_app._get_current_object().extensions.get("cds_auth")
    if authenticator is not None:
        g.cds_issuer = authenticator.authenticate(req)


def allowed_fhir_bases(conf: Settings | None = None, issuer: Any = _UNSET) -> tuple[str, ...]:
    """Normalized bases: issuers' fhir_servers and Settings' bases are normalized when loaded."""
    if issuer is _UNSET:
        issuer = g.get("cds_issuer")
    if conf is None:
        conf = settings()
    bases: list[str] = list(issuer.fhir_servers) if issuer is not None else []
    if issuer is None:
        bases.extend(conf.fhir_servers_without_issuer())
    elif conf.demo:
        bases.extend(conf.demo_fhir_bases())
    return tuple(dict.fromkeys(bases))


@bp.get("/cds-services")
def discovery():
    return jsonify(services.discovery_document())


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str):
    started = time.perf_counter()
    # the real objects behind Flask's proxies, once: each access through `request`, `g` or
    # `current_app` costs a context lookup (~9,000 instructions), a dozen of them per call
    app = current_app._get_current_object()
    req = request._get_current_object()
    ctx_g = g._get_current_object()
    log_fields = ctx_g.cds_log
    known = service_id in services.service_ids()
    label = service_id if known else "unknown"  # never a client-chosen metrics label
    log_fields["service"] = label
    status, cards = 500, []
    hook = None
    try:
        if not known:
            raise ApiError(404, "unknown service", ["no CDS service with this id"])
        extensions = app.extensions
        conf: Settings = extensions["cds_settings"]
        body = read_json_body(req, max_depth=conf.max_json_depth)
        hook = body.get("hook") if isinstance(body, dict) else None
        problems = hook_request_problems(body, services.hooks_for(service_id))
        if problems:
            raise ApiError(400, "invalid request", problems)
        log_fields["hook"] = hook
        log_fields["hookInstance"] = body["hookInstance"]
        allowed = allowed_fhir_bases(conf, ctx_g.get("cds_issuer"))
        fhir_server = body.get("fhirServer")
        if fhir_server is not None and normalize_base_url(fhir_server) not in allowed:
            raise ApiError(403, "fhirServer not allowed",
                           ["fhirServer: not a FHIR server this client is trusted to send"])
        client = client_for_request(body, conf, allowed_bases=allowed,
                                    session=extensions["cds_fhir_session"],
                                    executor=extensions["cds_fhir_executor"])
        evaluator = conf.extra.get("CDS_EVALUATOR") or evaluate
        info = EvaluationInfo()
        kwargs: dict[str, Any] = {"settings": conf, "fhir_client": client, "now": None}
        if evaluator is evaluate:
            kwargs["info"] = info
        try:
            result = evaluator(body, **kwargs)
        except (ApiError, PrefetchUnavailable):
            raise
        except Exception as exc:  # noqa: BLE001 - a defect in a clinical layer, on data a client sent
            _log_evaluation_failure(exc, body["hookInstance"])
            raise ApiError(422, "the clinical data in this request could not be evaluated",
                           ["no cards: the service could not evaluate this patient's data; the failure is "
                            f"logged under hookInstance {body['hookInstance']}"]) from None
        if evaluator is evaluate:
            cards = result["cards"]  # build_cards' validation refuses empty values (the CLI prints the same)
        else:  # an injected evaluator's answer gets the same CDS Hooks JSON rule
            cards = [strip_empty(card) for card in result.get("cards") or []]
            result = {**strip_empty({k: v for k, v in result.items() if k != "cards"}), "cards": cards}
        log_fields["unavailable"] = info.unavailable or None
        recorder = extensions.get("cds_card_log")
        if recorder is not None:
            recorder.record(cards, service_id=service_id, hook=hook, hook_instance=body["hookInstance"],
                            patient_id=body["context"]["patientId"])
        status = 200
        return app.json.response(result)  # what `jsonify` does, without its proxy lookup
    except ApiError as exc:
        status = exc.status
        raise
    except PrefetchUnavailable:
        status = 412
        raise
    except Exception as exc:  # werkzeug HTTPException (413) and bugs
        status = getattr(exc, "code", None) or 500
        raise
    finally:
        log_fields["cards"] = len(cards)
        send_safely(hook_evaluated, app, service=label,
                    hook=hook if hook in services.HOOKS else None, status=status,
                    duration_s=time.perf_counter() - started, cards=cards)


def _log_evaluation_failure(exc: BaseException, hook_instance: str) -> None:
    """Log where evaluation failed (exception type, innermost frame) without its message, which may
    quote patient data."""
    import json
    import logging
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename.rsplit('/', 2)[-2:]}:{frames[-1].lineno}" if frames else "?"
    logging.getLogger("cds_service.api").error(json.dumps({
        "event": "evaluation_failed", "hookInstance": hook_instance, "error": type(exc).__name__,
        "where": where, "frames": [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}" for f in frames[-6:]]}))


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str):
    if service_id not in services.service_ids():
        g.cds_log["service"] = "unknown"
        raise ApiError(404, "unknown service", ["no CDS service with this id"])
    g.cds_log["service"] = service_id
    from .feedback import handle_feedback

    return handle_feedback(service_id)
