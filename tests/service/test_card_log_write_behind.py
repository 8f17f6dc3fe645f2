"""The card log's write-behind: rows land shortly after the answer, feedback still finds its card,
one bad row does not cost a batch, a clean exit writes what is queued, 0 ms writes inside the request."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, select

from cds_service.models import ReturnedCard
from svc_helpers import FEEDBACK, PV, full_prefetch, hook_request

REPO = Path(__file__).resolve().parents[2]


def _card(card_uuid: str) -> dict:
    return {"uuid": card_uuid, "summary": "Omalizumab 300 mg SC every 4 weeks", "indicator": "info",
            "source": {"label": "omalizumab-cds", "topic": {"system": "urn:test:topics", "code": "omalizumab-dose"}}}


def _logged(db_path) -> dict[str, dict]:
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        with engine.connect() as conn:
            return {r.card_uuid: dict(r._mapping) for r in conn.execute(select(ReturnedCard.__table__))}
    finally:
        engine.dispose()


def _fresh_cards_client(make_client, db_path, **overrides):
    def evaluator(body, **_):
        return {"cards": [_card(str(uuid.uuid4())), _card(str(uuid.uuid4()))]}
    return make_client(CDS_DATABASE_URL=f"sqlite:///{db_path}", CDS_EVALUATOR=evaluator, **overrides)


def test_rows_land_without_a_flush_within_the_write_behind_window(make_client, tmp_path):
    db_path = tmp_path / "wb.sqlite3"
    client = _fresh_cards_client(make_client, db_path, CDS_CARD_LOG_WRITE_BEHIND_MS="50")
    returned = set()
    for _ in range(5):
        resp = client.post(PV, json=hook_request(prefetch=full_prefetch()))
        assert resp.status_code == 200
        returned |= {c["uuid"] for c in resp.get_json()["cards"]}
    deadline = time.monotonic() + 5
    while set(_logged(db_path)) != returned and time.monotonic() < deadline:
        time.sleep(0.02)
    logged = _logged(db_path)
    assert set(logged) == returned  # written by the writer thread, nobody flushed
    assert {r["topic"] for r in logged.values()} == {"omalizumab-dose"}


def test_feedback_right_after_the_answer_finds_its_card(make_client, tmp_path):
    client = _fresh_cards_client(make_client, tmp_path / "fb.sqlite3", CDS_CARD_LOG_WRITE_BEHIND_MS="5000")
    resp = client.post(PV, json=hook_request(prefetch=full_prefetch()))
    card_uuid = resp.get_json()["cards"][0]["uuid"]
    fb = client.post(FEEDBACK, json={"feedback": [{
        "card": card_uuid, "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:05:31Z",
        "overrideReason": {"userComment": "write-behind check"}}]})
    assert fb.status_code == 200
    assert "unknownCards" not in fb.get_json()  # the 5 s window had not passed: the flush wrote it


def test_zero_writes_inside_the_request(make_client, tmp_path):
    db_path = tmp_path / "sync.sqlite3"
    client = _fresh_cards_client(make_client, db_path, CDS_CARD_LOG_WRITE_BEHIND_MS="0")
    resp = client.post(PV, json=hook_request(prefetch=full_prefetch()))
    assert set(_logged(db_path)) == {c["uuid"] for c in resp.get_json()["cards"]}


def test_a_repeated_uuid_does_not_cost_the_rest_of_the_batch(make_client, tmp_path, caplog):
    import logging

    caplog.set_level(logging.ERROR, logger="cds_service")
    db_path = tmp_path / "dup.sqlite3"
    client = make_client(CDS_DATABASE_URL=f"sqlite:///{db_path}", CDS_CARD_LOG_WRITE_BEHIND_MS="60000")
    card_log = client.application.extensions["cds_card_log"]
    card_log.record([_card("dup-1"), _card("ok-1")], service_id="omalizumab-patient-view", hook="patient-view",
                    hook_instance="h-1", patient_id="p-1")
    card_log.record([_card("dup-1"), _card("ok-2")], service_id="omalizumab-patient-view", hook="patient-view",
                    hook_instance="h-2", patient_id="p-1")
    assert card_log.flush() is False  # one row failed...
    assert set(_logged(db_path)) == {"dup-1", "ok-1", "ok-2"}  # ...the others are in
    assert "card_log_failed" in caplog.text and "h-2" in caplog.text


def test_a_clean_exit_writes_what_is_queued(tmp_path):
    db_path = tmp_path / "exit.sqlite3"
    script = textwrap.dedent(f"""
        from cds_service import create_app
        app = create_app({{"CDS_AUTH": "off", "CDS_DATABASE_URL": "sqlite:///{db_path}",
                          "CDS_CARD_LOG_WRITE_BEHIND_MS": "600000"}})
        card = {{"uuid": "exit-1", "summary": "s", "indicator": "info",
                 "source": {{"label": "l", "topic": {{"code": "omalizumab-dose"}}}}}}
        app.extensions["cds_card_log"].record([card], service_id="omalizumab-patient-view",
                                              hook="patient-view", hook_instance="h", patient_id="p")
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert set(_logged(db_path)) == {"exit-1"}  # the 10-minute window never passed: atexit wrote it


def test_the_writer_thread_is_started_again_in_a_forked_process(make_client, tmp_path):
    client = make_client(CDS_DATABASE_URL=f"sqlite:///{tmp_path / 'fork.sqlite3'}", CDS_CARD_LOG_WRITE_BEHIND_MS="20")
    card_log = client.application.extensions["cds_card_log"]
    card_log._writer_pid = -1  # as a gunicorn worker finds it: set by another process (the one it forked from)
    card_log.record([_card("fork-1")], service_id="omalizumab-patient-view", hook="patient-view",
                    hook_instance="h", patient_id="p")
    assert card_log._writer_pid == os.getpid()
    deadline = time.monotonic() + 5
    while "fork-1" not in _logged(tmp_path / "fork.sqlite3") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "fork-1" in _logged(tmp_path / "fork.sqlite3")
