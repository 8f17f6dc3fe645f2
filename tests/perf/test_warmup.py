"""Worker warm-up: the synthetic requests run through the real pipeline, write nothing, and leave
the first real request fast (the lazily built tables are built)."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from cds_service import create_app
from cds_service.models import ReturnedCard
from cds_service.warmup import synthetic_requests, warm_up


def test_synthetic_requests_are_valid_hook_requests():
    from cds_service.validation import hook_request_problems

    for req in synthetic_requests():
        assert hook_request_problems(req, (req["hook"],)) == []


def test_warm_up_runs_the_pipeline_and_writes_nothing(tmp_path, caplog):
    app = create_app({"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'w.sqlite3'}"})
    caplog.set_level(logging.WARNING, logger="cds_service.warmup")
    seconds = warm_up(app)
    assert seconds > 0
    assert "warm-up failed" not in caplog.text
    with app.extensions["cds_db"].session() as session:
        assert session.execute(select(func.count()).select_from(ReturnedCard)).scalar() == 0


def test_warm_up_failure_is_logged_not_raised(tmp_path, caplog, monkeypatch):
    import cds_service.pipeline as pipeline

    app = create_app({"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'w.sqlite3'}"})

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "evaluate", broken)
    caplog.set_level(logging.WARNING, logger="cds_service.warmup")
    warm_up(app)
    assert "warm-up failed (RuntimeError)" in caplog.text
