"""The performance floor: the least a Flask + gunicorn CDS Hooks service can do.

It parses the hook request (JSON body, like the real service) and returns one static card; discovery
and feedback answer with static JSON too.  `run_bench.py` serves it with the same gunicorn worker
count and class as `omalizumab-cds serve` and drives it with exactly the same requests, so the ratio
service/floor isolates the cost of the service's own work (validation, mappings, core, cards, DB).

A hook request with an empty prefetch and a `fhirServer` (the bench's `fetch` scenario) cannot be
answered without its data, so there the least a service can do is read it: the floor fetches the
service's 12 prefetch searches from that server the plainest way (one pooled `requests` Session,
8 threads, as the service's defaults; each response's JSON decoded; one page each, no paging, no
checks) before its static card.  The fetch ratio then measures what the service adds to the same
reads, not the reads themselves, which a static floor never makes.  FLOOR_FETCH=0 in the environment
turns the reads off (the static floor the bench also reports the fetch scenario against).
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, jsonify, request

_CARD = {
    "summary": "Floor: static card",
    "indicator": "info",
    "source": {"label": "floor"},
}


class _Fetcher:
    """The prefetch searches of the service, read in parallel from the request's fhirServer."""

    def __init__(self) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        from fhir_mappings import prefetch_templates

        self.templates = list(prefetch_templates().values())
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="floor-fetch")

    def _get(self, url: str, headers: dict) -> object:
        resp = self.session.get(url, headers=headers, timeout=2.5)
        return resp.json() if resp.status_code == 200 else None

    def fetch_all(self, body: dict) -> list:
        base = str(body["fhirServer"]).rstrip("/")
        pid = str((body.get("context") or {}).get("patientId", ""))
        token = (body.get("fhirAuthorization") or {}).get("access_token")
        headers = {"Accept": "application/fhir+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        urls = [f"{base}/{t.replace('{{context.patientId}}', pid)}" for t in self.templates]
        return list(self.pool.map(lambda u: self._get(u, headers), urls))


def create_app() -> Flask:
    app = Flask(__name__)
    fetcher: list[_Fetcher] = []  # built on the first fetch (after gunicorn forked the worker)
    fetch = os.environ.get("FLOOR_FETCH", "1") != "0"

    @app.get("/cds-services")
    def discovery():
        return jsonify(services=[{"id": "floor", "hook": "patient-view", "description": "floor"}])

    @app.post("/cds-services/<service_id>")
    def hook(service_id: str):
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or "hook" not in body:
            return jsonify(error="bad request"), 400
        if fetch and body.get("fhirServer") and not body.get("prefetch"):
            if not fetcher:
                fetcher.append(_Fetcher())
            fetcher[0].fetch_all(body)
        return jsonify(cards=[dict(_CARD, uuid=str(uuid.uuid4()))])

    @app.post("/cds-services/<service_id>/feedback")
    def feedback(service_id: str):
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("feedback"), list):
            return jsonify(error="bad request"), 400
        return jsonify(accepted=len(body["feedback"]))

    return app
