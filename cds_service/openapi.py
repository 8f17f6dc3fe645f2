"""`GET /openapi.json`: the static OpenAPI 3 description (cds_service/openapi.json) of this API."""
from __future__ import annotations

import functools
import json
from importlib import resources

from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)


@functools.cache
def document() -> dict:
    return json.loads(resources.files("cds_service").joinpath("openapi.json").read_text("utf-8"))


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(document())
