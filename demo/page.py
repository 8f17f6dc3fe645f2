"""The EHR-sidebar demo page at `/` and its two small helpers (demo mode only).

The page itself is static (demo/static/, no build step, no external URLs). It calls the service's real
`/cds-services` endpoints; the only demo-specific endpoints are:
- `GET /demo/api/config`: the demo patients (index.json: scenario, expected answer), the order drafts,
  the demo FHIR base the service accepts as `fhirServer`, and "today" after the date shift;
- `GET /demo/feedback?card=<uuid>`: the feedback rows the service stored for one card, read from the
  real feedback table, so the page can show that feedback was recorded.
"""
from __future__ import annotations

import json
import re

from flask import Blueprint, current_app, jsonify, request, send_from_directory, url_for

from .fhir_server import today
from .store import ANCHOR_DATE, patient_index, raw_index, store_for

bp = Blueprint("demo_page", __name__, static_folder="static", static_url_path="/demo/static")
_UUIDISH = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")


@bp.get("/")
def index():
    response = send_from_directory(bp.static_folder, "index.html", max_age=0)
    return response


def _fhir_base() -> str:
    settings = current_app.extensions.get("cds_settings")
    if settings is not None and getattr(settings, "demo", False):
        # The base the service itself accepts as fhirServer (CDS_PUBLIC_BASE_URL + /demo/fhir), when
        # the page is opened on that host; otherwise this request's own host (e.g. localhost).
        configured = settings.demo_fhir_base
        own = url_for("demo_fhir.capabilities", _external=True).rsplit("/metadata", 1)[0]
        allowed = {b.rstrip("/") for b in settings.demo_fhir_bases()}
        return own if own.rstrip("/") in allowed else configured
    return url_for("demo_fhir.capabilities", _external=True).rsplit("/metadata", 1)[0]


@bp.get("/demo/api/config")
def config():
    now = today()
    store = store_for(now)
    drafts = [{"id": d["id"], "text": d["text"], "resource": store.drafts[d["id"]]}
              for d in raw_index()["drafts"]]
    return jsonify({
        "fhirServer": _fhir_base(),
        "today": now.isoformat(),
        "anchorDate": ANCHOR_DATE.isoformat(),
        "shiftDays": store.shift_days,
        "patients": patient_index(now),
        "drafts": drafts,
    })


@bp.get("/demo/feedback")
def feedback_rows():
    """Feedback rows stored for one card uuid (demo only: ids and outcomes, no patient data)."""
    card = request.args.get("card", "")
    if not _UUIDISH.match(card):
        return jsonify({"error": "invalid_request", "message": "query parameter 'card' (a card uuid) "
                        "is required"}), 400
    db = current_app.extensions.get("cds_db")
    if db is None:
        return jsonify({"error": "unavailable", "message": "no feedback store in this app"}), 503
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from cds_service.models import Feedback

    try:
        with db.session() as session:
            rows = session.scalars(select(Feedback).where(Feedback.card_uuid == card)
                                   .order_by(Feedback.id)).all()
    except SQLAlchemyError:
        return jsonify({"error": "unavailable", "message": "feedback store unavailable"}), 503
    return jsonify({"card": card, "feedback": [{
        "id": r.id, "serviceId": r.service_id, "topic": r.topic, "cardKnown": r.card_known,
        "outcome": r.outcome, "acceptedSuggestions": json.loads(r.accepted_suggestions or "[]"),
        "overrideReason": ({"system": r.override_system, "code": r.override_code,
                            "display": r.override_display} if r.override_code else None),
        "outcomeTimestamp": r.outcome_timestamp.isoformat() if r.outcome_timestamp else None,
        "receivedAt": r.received_at.isoformat() if r.received_at else None,
    } for r in rows]})
