"""Feedback (CDS Hooks 2.0 §Feedback): validate, store durably, then answer.

Each entry is stored before the 200 (commit first).  A repeat of the same entry (same service and
identical JSON) is recognised by its sha256 `dedup_key` and not stored twice, so a client may retry
safely.  Feedback about a card the service never returned (or whose log entry was lost) is stored
with `card_known = false` rather than refused.  A database outage answers 503, never 500 or a
silent 200.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Mapping

from flask import current_app, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .errors import ApiError
from .models import Feedback, ReturnedCard
from .signals import feedback_stored, send_safely
from .validation import feedback_problems, parse_timestamp, read_json_body


def dedup_key(service_id: str, entry: Mapping[str, Any]) -> str:
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{service_id}\x00{canonical}".encode()).hexdigest()


def _row(service_id: str, entry: Mapping[str, Any], key: str, known: ReturnedCard | None,
         now: datetime) -> dict:
    accepted = [s["id"] for s in entry.get("acceptedSuggestions") or ()]
    offered = set(json.loads(known.suggestion_uuids)) if known is not None else set()
    unknown = [s for s in accepted if s not in offered]
    reason = entry.get("overrideReason") or {}
    coding = reason.get("reason") or {}
    ts = parse_timestamp(entry["outcomeTimestamp"])
    if ts is not None and ts.tzinfo is None:  # pragma: no cover - the regex requires a zone
        ts = ts.replace(tzinfo=timezone.utc)
    return {
        "dedup_key": key,
        "service_id": service_id,
        "card_uuid": entry["card"],
        "card_known": known is not None,
        "topic": known.topic if known is not None else None,
        "outcome": entry["outcome"],
        "accepted_suggestions": json.dumps(accepted),
        "unknown_suggestions": json.dumps(unknown),
        "override_system": (coding.get("system") or None) and str(coding["system"])[:300],
        "override_code": (coding.get("code") or None) and str(coding["code"])[:120],
        "override_display": (coding.get("display") or None) and str(coding["display"])[:300],
        "user_comment": reason.get("userComment"),
        "outcome_timestamp": ts.astimezone(timezone.utc),
        "received_at": now,
    }


def store_feedback(db, service_id: str, entries: list[Mapping[str, Any]]) -> dict:
    """Store entries (idempotently); return counts and which cards were unknown."""
    now = datetime.now(timezone.utc)
    stored, duplicates, unknown_cards, new_rows = 0, 0, [], []
    with db.session() as session, session.begin():
        uuids = {e["card"] for e in entries}
        known = {c.card_uuid: c for c in session.scalars(
            select(ReturnedCard).where(ReturnedCard.card_uuid.in_(uuids)))}
        keys = [dedup_key(service_id, e) for e in entries]
        existing = set(session.scalars(select(Feedback.dedup_key).where(Feedback.dedup_key.in_(keys))))
        for entry, key in zip(entries, keys):
            if key in existing:
                duplicates += 1
                continue
            existing.add(key)  # the same entry twice in one POST
            card = known.get(entry["card"])
            if card is None and entry["card"] not in unknown_cards:
                unknown_cards.append(entry["card"])
            row = _row(service_id, entry, key, card, now)
            session.add(Feedback(**row))
            new_rows.append(row)
            stored += 1
    return {"stored": stored, "duplicates": duplicates, "unknownCards": unknown_cards, "rows": new_rows}


def handle_feedback(service_id: str):
    body = read_json_body(request, max_depth=current_app.extensions["cds_settings"].max_json_depth)
    problems = feedback_problems(body)
    if problems:
        raise ApiError(400, "invalid feedback", problems)
    entries = body["feedback"]
    db = current_app.extensions["cds_db"]
    card_log = current_app.extensions.get("cds_card_log")
    if card_log is not None:
        card_log.flush()  # cards this process returned are in the table before they are looked up
    try:
        result = store_feedback(db, service_id, entries)
    except IntegrityError:
        # a concurrent identical POST won the race: everything in this one is already stored
        try:
            result = store_feedback(db, service_id, entries)
        except SQLAlchemyError:
            raise ApiError(503, "feedback could not be stored", ["database unavailable, retry later"]) from None
    except SQLAlchemyError:
        raise ApiError(503, "feedback could not be stored", ["database unavailable, retry later"]) from None
    sender = current_app._get_current_object()
    for row in result["rows"]:
        send_safely(feedback_stored, sender, topic=row["topic"] or "unknown", outcome=row["outcome"])
    g.cds_log["feedback"] = {"stored": result["stored"], "duplicates": result["duplicates"],
                             "unknown_cards": len(result["unknownCards"])}
    out = {"stored": result["stored"], "duplicates": result["duplicates"]}
    if result["unknownCards"]:
        out["unknownCards"] = result["unknownCards"]
    return jsonify(out)
