"""The per-request observers' short paths write what the general ones write.

* request log: the line a plain StreamHandler gets without a LogRecord is byte for byte the line
  logging writes through the same handler (and anything but the plain configuration takes logging's
  own path);
* card log: the rows CardLog stores from its queued tuples (qmark executemany, the created_at
  processor once per timestamp) are the rows a SQLAlchemy Core insert of the same values stores.
"""
from __future__ import annotations

import contextlib
import io
import logging
import sqlite3
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine

from cds_service import db as db_module
from cds_service import request_log
from cds_service.db import CardLog, Database, make_engine, upgrade
from cds_service.models import ReturnedCard

PV = "/cds-services/omalizumab-patient-view"


# -- request log ----------------------------------------------------------------------------------
@pytest.fixture
def plain_logging(monkeypatch):
    """Logging as configure_logging leaves a worker: one StreamHandler on `cds_service`, nothing on
    the root (see `no_root_handlers`); the stream is a StringIO."""
    service = logging.getLogger("cds_service")
    monkeypatch.setattr(service, "handlers", [])
    monkeypatch.setattr(request_log.log, "handlers", [])
    monkeypatch.setattr(request_log.log, "filters", [])
    monkeypatch.setattr(service, "propagate", True)
    request_log.configure_logging("INFO")
    handler = service.handlers[0]
    stream = io.StringIO()
    handler.setStream(stream)
    return handler, stream


@contextlib.contextmanager
def no_root_handlers():
    """pytest puts its capturing handlers on the root for each test phase: off them inside the
    test only, so they are back before pytest removes them."""
    root = logging.getLogger()
    saved = root.handlers
    root.handlers = []
    try:
        yield
    finally:
        root.handlers = saved


def _finish_line(app, monkeypatch, fields) -> None:
    monkeypatch.setattr(request_log.time, "perf_counter", lambda: 1000.0)
    with app.test_request_context(PV, method="POST"):
        request_log._start()
        from flask import g
        g.cds_t0 = 999.99687
        g.cds_log.update(fields)
        request_log._finish(app.response_class("{}", status=200))


FIELDS = [
    {"service": "omalizumab-patient-view", "hook": "patient-view", "hookInstance": "d1577c69", "cards": 2},
    {"service": "unknown", "cards": 0},
    {"service": "x", "unavailable": ["patient", "b"], "issuer": "https://ehr.example/é", "feedback": 3,
     "hook": {"b": 1, "a": [1.5, None]}},  # nested keys sorted, non-ASCII as logging writes it
]


@pytest.mark.parametrize("fields", FIELDS)
@pytest.mark.parametrize("formatter", ["service", "none"])
def test_the_plain_handler_line_is_what_logging_writes(make_client, spy, monkeypatch, plain_logging,
                                                       fields, formatter):
    handler, stream = plain_logging
    if formatter == "none":
        handler.setFormatter(None)
    app = make_client(CDS_EVALUATOR=spy).application
    stream.seek(0)
    stream.truncate()  # the app's start-up warnings
    with no_root_handlers():
        assert request_log._sole_plain_handler() is handler
        _finish_line(app, monkeypatch, fields)
        short = stream.getvalue()
        stream.seek(0)
        stream.truncate()
        # the same handler, reached through logging (a filter that lets everything pass forces it)
        handler.addFilter(lambda record: True)
        assert request_log._sole_plain_handler() is None
        _finish_line(app, monkeypatch, fields)
    assert short == stream.getvalue() and short.count("\n") == 1


def test_any_other_configuration_goes_through_logging(plain_logging, monkeypatch):
    handler, _ = plain_logging
    service = logging.getLogger("cds_service")
    with no_root_handlers():
        assert request_log._sole_plain_handler() is handler
    assert request_log._sole_plain_handler() is None  # pytest's handlers on the root, as caplog's
    cases = [
        lambda: monkeypatch.setattr(request_log.log, "handlers", [logging.StreamHandler(io.StringIO())]),
        lambda: monkeypatch.setattr(request_log.log, "filters", [logging.Filter("other")]),
        lambda: monkeypatch.setattr(handler, "level", logging.WARNING),
        lambda: monkeypatch.setattr(handler, "formatter", logging.Formatter("%(levelname)s %(message)s")),
        lambda: monkeypatch.setattr(service, "handlers", [logging.FileHandler(__file__ + ".x", delay=True)]),
        lambda: monkeypatch.setattr(service, "propagate", True)
        or monkeypatch.setattr(request_log.log, "propagate", False),  # no handler reached: lastResort
    ]
    for change in cases:
        with no_root_handlers(), monkeypatch.context() as m:
            monkeypatch = m
            change()
            assert request_log._sole_plain_handler() is None


def test_a_failing_stream_is_reported_as_logging_reports_it(make_client, spy, monkeypatch, plain_logging):
    handler, _ = plain_logging

    class Broken(io.StringIO):
        def write(self, text):
            raise OSError("disk gone")

    app = make_client(CDS_EVALUATOR=spy).application
    handler.setStream(Broken())
    reported = []
    monkeypatch.setattr(handler, "handleError", reported.append)
    with no_root_handlers():
        assert request_log._sole_plain_handler() is handler
        _finish_line(app, monkeypatch, FIELDS[0])
    assert len(reported) == 1
    record = reported[0]
    assert record.name == "cds_service.requests" and record.funcName == "_finish"
    assert record.levelno == logging.INFO and '"event":"request"' in record.getMessage()


# -- card log -------------------------------------------------------------------------------------
def _cards(n: int, *, suggestions: bool) -> list[dict]:
    cards = []
    for i in range(n):
        card = {"uuid": str(uuid.uuid4()), "summary": "s", "indicator": ("info", "warning", None)[i % 3],
                "source": {"label": "l", "topic": {"code": f"topic-{i % 2}"} if i % 4 != 3 else None}}
        if suggestions:
            card["suggestions"] = [{"uuid": str(uuid.uuid4())}, {"label": "no uuid"}]
        cards.append(card)
    return cards


def _raw_rows(path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT * FROM returned_cards ORDER BY card_uuid").fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("write_behind_s", [0.0, 60.0])
def test_card_log_rows_are_what_a_core_insert_stores(tmp_path, monkeypatch, write_behind_s):
    times = iter(datetime(2026, 11, 22, 10, 5, 31, 123456, tzinfo=timezone.utc) + timedelta(seconds=7 * i)
                 for i in range(100))

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return next(times)

    monkeypatch.setattr(db_module, "datetime", Clock)
    fast_path = tmp_path / "fast.sqlite3"
    engine = make_engine(f"sqlite:///{fast_path}")
    upgrade(engine)
    card_log = CardLog(Database(engine), write_behind_s)
    calls = [(_cards(3, suggestions=True), "h-1" * 40), (_cards(1, suggestions=False), "h-2"),
             (_cards(4, suggestions=True), "h-3")]
    expected = []
    for cards, instance in calls:
        assert card_log.record(cards, service_id="omalizumab-patient-view", hook="patient-view",
                               hook_instance=instance, patient_id="p-1") is True
    assert card_log.flush() is True
    # the same values through SQLAlchemy Core, as the card log wrote them before the tuples
    times = iter(datetime(2026, 11, 22, 10, 5, 31, 123456, tzinfo=timezone.utc) + timedelta(seconds=7 * i)
                 for i in range(100))
    for cards, instance in calls:
        now = next(times)
        for card in cards:
            expected.append({
                "card_uuid": card["uuid"], "service_id": "omalizumab-patient-view", "hook": "patient-view",
                "topic": db_module.card_topic(card), "indicator": card.get("indicator"),
                "hook_instance": instance[:80], "patient_id": "p-1",
                "suggestion_uuids": db_module.uuid_list_json(
                    [s["uuid"] for s in card.get("suggestions", ()) if s.get("uuid")]),
                "created_at": now})
    core_path = tmp_path / "core.sqlite3"
    core = create_engine(f"sqlite:///{core_path}")
    upgrade(core)
    with core.begin() as conn:
        conn.execute(ReturnedCard.__table__.insert(), expected)
    core.dispose()
    engine.dispose()
    assert _raw_rows(fast_path) == _raw_rows(core_path) and len(_raw_rows(core_path)) == 8


def test_card_log_general_path_takes_the_tuples_too(tmp_path):
    """An in-memory database (no own engine): the queued tuples go through a Core insert as dicts."""
    engine = make_engine("sqlite://")
    upgrade(engine)
    card_log = CardLog(Database(engine), 0.0)
    cards = _cards(2, suggestions=True)
    assert card_log.record(cards, service_id="s", hook="patient-view", hook_instance="h",
                           patient_id="p") is True
    with engine.connect() as conn:
        rows = conn.execute(ReturnedCard.__table__.select().order_by("card_uuid")).mappings().all()
    assert sorted(c["uuid"] for c in cards) == [r["card_uuid"] for r in rows]
    assert {r["hook_instance"] for r in rows} == {"h"} and all(r["created_at"] is not None for r in rows)
