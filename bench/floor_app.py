"""The performance floor: the least a Flask + gunicorn CDS Hooks service can do.

It parses the hook request (JSON body, like the real service) and returns one static card; discovery
and feedback answer with static JSON too.  `run_bench.py` serves it with the same gunicorn worker
count and class as `omalizumab-cds serve` and drives it with exactly the same requests, so the ratio
service/floor isolates the cost of the service's own work (validation, mappings, core, cards, DB).
"""

from __future__ import annotations

import uuid

from flask import Flask, jsonify, request

_CARD = {
    "summary": "Floor: static card",
    "indicator": "info",
    "source": {"label": "floor"},
}


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/cds-services")
    def discovery():
        return jsonify(services=[{"id": "floor", "hook": "patient-view", "description": "floor"}])

    @app.post("/cds-services/<service_id>")
    def hook(service_id: str):
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or "hook" not in body:
            return jsonify(error="bad request"), 400
        return jsonify(cards=[dict(_CARD, uuid=str(uuid.uuid4()))])

    @app.post("/cds-services/<service_id>/feedback")
    def feedback(service_id: str):
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("feedback"), list):
            return jsonify(error="bad request"), 400
        return jsonify(accepted=len(body["feedback"]))

    return app
