"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the database answers)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    db = current_app.extensions.get("cds_db")
    if db is None:
        return jsonify({"status": "ok", "database": "not configured"})
    if db.ping():
        return jsonify({"status": "ok", "database": "ok"})
    resp = jsonify({"status": "unavailable", "database": "unreachable"})
    resp.status_code = 503
    return resp
