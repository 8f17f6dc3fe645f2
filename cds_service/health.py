"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the database answers)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready when the database answers and, with CDS_REDIS_URL, the shared jti store answers too
    (without it every authenticated call would be refused with 503)."""
    body = {"status": "ok"}
    db = current_app.extensions.get("cds_db")
    body["database"] = "not configured" if db is None else ("ok" if db.ping() else "unreachable")
    auth = current_app.extensions.get("cds_auth")
    replay = getattr(auth, "replay", None)
    if hasattr(replay, "ping"):
        body["replayCache"] = "ok" if replay.ping() else "unreachable"
    if "unreachable" in body.values():
        body["status"] = "unavailable"
        resp = jsonify(body)
        resp.status_code = 503
        return resp
    return jsonify(body)
