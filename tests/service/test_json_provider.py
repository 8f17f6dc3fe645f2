"""The orjson JSON provider writes what Flask's own provider writes (as JSON values)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from cds_service.json_provider import FastJSONProvider


def _providers():
    app = Flask("t")
    fast = FastJSONProvider(app)
    slow = DefaultJSONProvider(app)
    slow.sort_keys, slow.compact = False, True
    return app, fast, slow


def test_plain_values_encode_to_the_same_json():
    app, fast, slow = _providers()
    value = {"cards": [{"uuid": "u1", "summary": "Omalizumab 300 mg SC every 4 weeks \u2013 caf\u00e9",
                        "indicator": "info", "detail": "| IgE | 412 IU/mL |", "n": 3, "x": 1.5,
                        "ok": True, "none": None, "list": [1, [2, {"a": "b"}]]}]}
    assert json.loads(fast.dumps(value)) == json.loads(slow.dumps(value)) == value
    with app.app_context():
        resp = fast.response(value)
        assert resp.mimetype == "application/json"
        assert json.loads(resp.get_data()) == value
        assert resp.get_data().endswith(b"\n")


def test_values_orjson_would_write_differently_go_to_flask():
    app, fast, slow = _providers()
    when = datetime(2026, 11, 22, 10, 30, tzinfo=timezone.utc)
    for value in ({"when": when}, {"d": Decimal("1.50")}, {1: "int key"}, {"big": 2 ** 70}):
        assert fast.dumps(value) == slow.dumps(value)
    with app.app_context():
        assert json.loads(fast.response({"when": when}).get_data()) == {"when": "Sun, 22 Nov 2026 10:30:00 GMT"}


def test_the_service_uses_it(app):
    assert isinstance(app.json, FastJSONProvider)
