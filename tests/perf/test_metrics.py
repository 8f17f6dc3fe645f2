"""/metrics: Prometheus text, fed by the service's blinker signals, single- and multi-process."""

from __future__ import annotations

import importlib
import sys
import types

import pytest
from flask import Flask

from cds_service import metrics


@pytest.fixture
def signals(monkeypatch):
    """The real ``cds_service.signals`` when the service layer has it, else stand-in signals with the
    same names (the metrics module only needs their names and ``send``)."""
    try:
        return importlib.import_module("cds_service.signals")
    except ImportError:
        from blinker import Namespace

        ns = Namespace()
        fake = types.ModuleType("cds_service.signals")
        for name in ("hook_evaluated", "fhir_fetch", "feedback_stored"):
            setattr(fake, name, ns.signal(name))
        monkeypatch.setitem(sys.modules, "cds_service.signals", fake)
        return fake


def _app() -> Flask:
    app = Flask("metrics-test")
    metrics.init_app(app)

    @app.get("/ping")
    def ping():
        return {"ok": True}

    return app


def _value(text: str, line_prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_prefix} not in metrics output:\n{text}")


CARDS = [
    {"summary": "a", "indicator": "warning", "source": {"label": "x", "topic": {"code": "omalizumab-dose"}}},
    {"summary": "b", "indicator": "warning", "source": {"label": "x", "topic": {"code": "omalizumab-dose"}}},
    {"summary": "c", "indicator": "info", "source": {"label": "x"}},
]


def test_metrics_endpoint_reports_signals(monkeypatch, signals):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    app = _app()
    client = app.test_client()
    with app.test_request_context("/cds-services/x"):
        signals.hook_evaluated.send(app, service="omalizumab-patient-view", hook="patient-view",
                                    status=200, duration_s=0.012, cards=CARDS)
        signals.fhir_fetch.send(app, key="totalIge", duration_s=0.2, ok=False)
        signals.fhir_fetch.send(app, key="weight", duration_s=0.1, ok=True)
        signals.feedback_stored.send(app, topic="omalizumab-dose", outcome="accepted")
    assert client.get("/ping").status_code == 200

    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.mimetype == "text/plain"
    text = resp.get_data(as_text=True)
    assert _value(text, 'cds_hook_request_duration_seconds_count{hook="patient-view",'
                        'service="omalizumab-patient-view",status="200"}') == 1
    assert _value(text, 'cds_hook_request_duration_seconds_bucket{hook="patient-view",le="0.025",'
                        'service="omalizumab-patient-view",status="200"}') == 1
    assert _value(text, 'cds_cards_returned_total{indicator="warning",topic="omalizumab-dose"}') == 2
    assert _value(text, 'cds_cards_returned_total{indicator="info",topic="none"}') == 1
    assert _value(text, 'cds_fhir_fetch_failures_total{key="totalIge"}') == 1
    assert _value(text, 'cds_fhir_fetch_duration_seconds_count{key="weight",outcome="ok"}') == 1
    assert _value(text, 'cds_feedback_total{outcome="accepted",topic="omalizumab-dose"}') == 1
    assert _value(text, 'cds_http_request_duration_seconds_count{endpoint="/ping",method="GET",'
                        'status="200"}') == 1


def test_two_apps_do_not_share_or_collide(monkeypatch, signals):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    first, second = _app(), _app()
    with first.test_request_context("/"):
        signals.feedback_stored.send(first, topic="t", outcome="overridden")
    text = second.test_client().get("/metrics").get_data(as_text=True)
    assert 'cds_feedback_total{outcome="overridden",topic="t"}' not in text
    text = first.test_client().get("/metrics").get_data(as_text=True)
    assert _value(text, 'cds_feedback_total{outcome="overridden",topic="t"}') == 1


def test_multiprocess_mode_aggregates_files_and_marks_dead(tmp_path, monkeypatch, signals):
    from prometheus_client import values

    monkeypatch.setattr(values, "ValueClass", values.ValueClass)  # restored after the test
    path = metrics.prepare_multiprocess_dir(str(tmp_path / "prom"))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", path)
    app = _app()
    with app.test_request_context("/"):
        signals.hook_evaluated.send(app, service="s", hook="order-sign", status=200, duration_s=0.003,
                                    cards=CARDS[:1])
    assert any(p.name.endswith(".db") for p in (tmp_path / "prom").iterdir())  # mmap files used
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert _value(text, 'cds_hook_request_duration_seconds_count{hook="order-sign",service="s",'
                        'status="200"}') == 1
    assert _value(text, 'cds_cards_returned_total{indicator="warning",topic="omalizumab-dose"}') == 1
    # gunicorn's child_exit hook must accept (server, worker) and not fail
    metrics.gunicorn_child_exit(None, types.SimpleNamespace(pid=999999))
