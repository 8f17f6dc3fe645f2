"""`GET /openapi.json`: the static OpenAPI 3 description (cds_service/openapi.json) of this API."""
from __future__ import annotations

import functools
import json
from importlib import resources

from flask import Blueprint, current_app, jsonify

bp = Blueprint("openapi", __name__)


@functools.cache
def document() -> dict:
    return json.loads(resources.files("cds_service").joinpath("openapi.json").read_text("utf-8"))


def for_settings(auth_enabled: bool) -> dict:
    """The document as this server runs: without CDS_AUTH there is no bearer requirement to describe."""
    doc = document()
    if auth_enabled:
        return doc
    doc = json.loads(json.dumps(doc))
    doc["components"].pop("securitySchemes", None)
    for path in doc["paths"].values():
        for operation in path.values():
            operation.pop("security", None)
            operation["responses"].pop("401", None)
    doc["info"]["description"] += " (This server runs with CDS_AUTH=off: no authentication.)"
    return doc


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(for_settings(current_app.extensions["cds_settings"].auth_enabled))
