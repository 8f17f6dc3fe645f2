"""Feedback: validation, durable storage before the 200, idempotency, join to the card log."""
import json
import uuid

import pytest
from sqlalchemy import create_engine, select, text

from cds_service.models import Feedback, ReturnedCard
from svc_helpers import FEEDBACK, ORDER, PV, full_prefetch, hook_request

TS = "2026-11-22T10:05:31Z"


def card(uuid_: str, topic: str = "omalizumab-dose", suggestions=("s-1",)) -> dict:
    return {"uuid": uuid_, "summary": "Omalizumab 300 mg SC every 4 weeks", "indicator": "info",
            "source": {"label": "omalizumab-cds", "topic": {"system": "urn:test:topics", "code": topic}},
            "selectionBehavior": "at-most-one",
            "suggestions": [{"label": "Order", "uuid": s} for s in suggestions]}


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "cds-test.sqlite3"


@pytest.fixture
def client(make_client, db_path):
    cards = [card("card-1"), card("card-2", "cyclosporine-unsafe", suggestions=("s-2", "s-3"))]
    return make_client(CDS_DATABASE_URL=f"sqlite:///{db_path}",
                       CDS_EVALUATOR=lambda body, **_: {"cards": cards})


def rows(db_path, model):
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(model.__table__))]


def accepted(card_uuid="card-1", suggestion="s-1", ts=TS):
    return {"card": card_uuid, "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion}],
            "outcomeTimestamp": ts}


def overridden(card_uuid="card-2", code="patient-declined", comment=None, ts=TS):
    reason = {"reason": {"system": "urn:test:override", "code": code, "display": "Patient declined"}}
    if comment:
        reason["userComment"] = comment
    return {"card": card_uuid, "outcome": "overridden", "overrideReason": reason, "outcomeTimestamp": ts}


def test_every_returned_card_is_recorded_with_its_ids(client, db_path):
    body = hook_request(prefetch=full_prefetch("pat-9"), pid="pat-9")
    assert client.post(PV, json=body).status_code == 200
    client.application.extensions["cds_card_log"].flush()  # write-behind: rows land within 50 ms
    logged = {r["card_uuid"]: r for r in rows(db_path, ReturnedCard)}
    assert set(logged) == {"card-1", "card-2"}
    assert logged["card-2"]["topic"] == "cyclosporine-unsafe"
    assert json.loads(logged["card-2"]["suggestion_uuids"]) == ["s-2", "s-3"]
    assert logged["card-1"]["hook_instance"] == body["hookInstance"]
    assert logged["card-1"]["patient_id"] == "pat-9" and logged["card-1"]["service_id"] == "omalizumab-patient-view"
    assert logged["card-1"]["hook"] == "patient-view" and logged["card-1"]["created_at"]


def test_feedback_is_stored_and_joined_to_its_card(client, db_path):
    client.post(PV, json=hook_request(prefetch=full_prefetch()))
    resp = client.post(FEEDBACK, json={"feedback": [accepted(), overridden(comment="discussed already")]})
    assert resp.status_code == 200 and resp.get_json() == {"stored": 2, "duplicates": 0}
    stored = {r["card_uuid"]: r for r in rows(db_path, Feedback)}
    assert stored["card-1"]["card_known"] and stored["card-1"]["topic"] == "omalizumab-dose"
    assert json.loads(stored["card-1"]["accepted_suggestions"]) == ["s-1"]
    assert stored["card-2"]["override_code"] == "patient-declined"
    assert stored["card-2"]["user_comment"] == "discussed already"
    assert stored["card-2"]["topic"] == "cyclosporine-unsafe"


def test_repeated_feedback_is_idempotent(client, db_path):
    client.post(PV, json=hook_request(prefetch=full_prefetch()))
    body = {"feedback": [accepted()]}
    assert client.post(FEEDBACK, json=body).get_json() == {"stored": 1, "duplicates": 0}
    assert client.post(FEEDBACK, json=body).get_json() == {"stored": 0, "duplicates": 1}
    assert client.post(FEEDBACK, json={"feedback": [accepted(), accepted()]}).get_json()["stored"] == 0
    assert len(rows(db_path, Feedback)) == 1
    # a later, different decision about the same card is new feedback
    assert client.post(FEEDBACK, json={"feedback": [overridden("card-1", ts="2026-11-22T11:00:00Z")]}
                       ).get_json()["stored"] == 1


def test_feedback_for_an_unknown_card_is_stored_and_flagged(client, db_path):
    resp = client.post(FEEDBACK, json={"feedback": [accepted("never-issued", "s-x")]})
    assert resp.status_code == 200
    assert resp.get_json()["unknownCards"] == ["never-issued"]
    (row,) = rows(db_path, Feedback)
    assert row["card_known"] is False or row["card_known"] == 0
    assert json.loads(row["unknown_suggestions"]) == ["s-x"]


def test_accepted_suggestion_not_on_the_card_is_flagged(client, db_path):
    client.post(PV, json=hook_request(prefetch=full_prefetch()))
    client.post(FEEDBACK, json={"feedback": [accepted("card-1", "s-999")]})
    (row,) = rows(db_path, Feedback)
    assert json.loads(row["unknown_suggestions"]) == ["s-999"]


@pytest.mark.parametrize("entry, expected", [
    ({"outcome": "accepted", "acceptedSuggestions": [{"id": "s"}], "outcomeTimestamp": TS}, ".card"),
    ({"card": "c", "outcome": "ignored", "outcomeTimestamp": TS}, ".outcome"),
    ({"card": "c", "outcome": "accepted", "outcomeTimestamp": TS}, "acceptedSuggestions"),
    ({"card": "c", "outcome": "accepted", "acceptedSuggestions": [{}], "outcomeTimestamp": TS}, "acceptedSuggestions[0]"),
    ({"card": "c", "outcome": "overridden", "overrideReason": {}, "outcomeTimestamp": TS}, "reason and/or userComment"),
    ({"card": "c", "outcome": "overridden", "overrideReason": {"reason": {"code": "x"}}, "outcomeTimestamp": TS},
     "Coding"),
    ({"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"}, "outcomeTimestamp"),
    ({"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:05:31"}, "outcomeTimestamp"),
    ({"card": "c", "outcome": "overridden"}, "outcomeTimestamp"),
])
def test_invalid_feedback_is_400_naming_the_problem(client, db_path, entry, expected):
    resp = client.post(FEEDBACK, json={"feedback": [entry]})
    assert resp.status_code == 400
    assert expected in " | ".join(resp.get_json()["details"])
    assert rows(db_path, Feedback) == []


@pytest.mark.parametrize("body", [{}, {"feedback": []}, {"feedback": {}}, [], {"feedback": [1]}])
def test_malformed_feedback_bodies_are_400(client, body):
    assert client.post(FEEDBACK, json=body).status_code == 400


def test_sandbox_dismiss_shape_is_accepted(client):
    # The Sandbox sends overrideReason.reason without display and no userComment
    entry = {"card": "card-1", "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:05:31.123Z",
             "overrideReason": {"reason": {"code": "not-applicable", "system": "urn:x"}}}
    assert client.post(FEEDBACK, json={"feedback": [entry]}).status_code == 200


def test_feedback_for_an_unknown_service_is_404(client):
    assert client.post("/cds-services/nope/feedback", json={"feedback": [accepted()]}).status_code == 404


def test_feedback_non_json_is_415(client):
    assert client.post(FEEDBACK, data="card=1", content_type="application/x-www-form-urlencoded").status_code == 415


def test_database_outage_on_feedback_is_503_not_500(client, app_config, db_path):
    from sqlalchemy import create_engine as ce

    app = client.application
    db = app.extensions["cds_db"]
    broken = ce("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1})
    db.engine = broken
    db.sessions.configure(bind=broken)
    resp = client.post(FEEDBACK, json={"feedback": [accepted()]})
    assert resp.status_code == 503
    assert resp.get_json()["error"] == "feedback could not be stored"
    assert client.get("/readyz").status_code == 503


def test_card_log_failure_does_not_lose_the_answer_and_is_logged(client, caplog):
    import logging

    from sqlalchemy import create_engine as ce

    caplog.set_level(logging.INFO, logger="cds_service")
    db = client.application.extensions["cds_db"]
    db.sessions.configure(bind=ce("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                  connect_args={"connect_timeout": 1}))
    resp = client.post(PV, json=hook_request(prefetch=full_prefetch()))
    assert resp.status_code == 200 and len(resp.get_json()["cards"]) == 2
    client.application.extensions["cds_card_log"].flush()  # write-behind: the failure comes after
    assert "card_log_failed" in caplog.text and "card-1" in caplog.text


def test_feedback_stored_signal(client):
    from cds_service.signals import feedback_stored

    client.post(PV, json=hook_request(prefetch=full_prefetch()))
    seen = []

    def receiver(sender, **kw):
        seen.append(kw)

    feedback_stored.connect(receiver)
    try:
        client.post(FEEDBACK, json={"feedback": [accepted(), overridden(), accepted("zzz")]})
        client.post(FEEDBACK, json={"feedback": [accepted()]})  # duplicate: no signal
    finally:
        feedback_stored.disconnect(receiver)
    assert seen == [{"topic": "omalizumab-dose", "outcome": "accepted"},
                    {"topic": "cyclosporine-unsafe", "outcome": "overridden"},
                    {"topic": "unknown", "outcome": "accepted"}]


def test_feedback_report_rates_and_reasons(client, db_path):
    from cds_service.report import feedback_report, format_report

    client.post(PV, json=hook_request(prefetch=full_prefetch()))
    client.post(FEEDBACK, json={"feedback": [
        accepted(), overridden("card-1", ts="2026-11-22T11:00:00Z"), overridden(comment="private note"),
        overridden(code="data-out-of-date", ts="2026-11-22T12:00:00Z"), accepted("ghost", "s")]})
    report = feedback_report(create_engine(f"sqlite:///{db_path}"))
    topics = {t["topic"]: t for t in report["topics"]}
    dose = topics["omalizumab-dose"]
    assert (dose["cards_returned"], dose["accepted"], dose["overridden"]) == (1, 1, 1)
    assert dose["accept_rate"] == 0.5 and dose["override_rate"] == 0.5
    cyclo = topics["cyclosporine-unsafe"]
    assert cyclo["override_rate"] == 1.0 and cyclo["comments"] == 1
    assert {(r["code"], r["count"]) for r in cyclo["override_reasons"]} == {("patient-declined", 1),
                                                                            ("data-out-of-date", 1)}
    assert topics["(unknown card)"]["accepted"] == 1
    printed = format_report(report)
    assert "omalizumab-dose" in printed and "50%" in printed and "Patient declined" in printed
    assert "private note" not in printed


def test_feedback_report_cli(client, db_path, monkeypatch, capsys):
    from cds_service.cli import main

    client.post(PV, json=hook_request(prefetch=full_prefetch()))
    client.post(FEEDBACK, json={"feedback": [accepted()]})
    monkeypatch.setenv("CDS_DATABASE_URL", f"sqlite:///{db_path}")
    assert main(["feedback-report"]) == 0
    out = capsys.readouterr().out
    assert "omalizumab-dose" in out and "100%" in out
    assert main(["feedback-report", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {t["topic"] for t in data["topics"]} >= {"omalizumab-dose", "cyclosporine-unsafe"}


def test_migrations_create_the_schema_and_are_idempotent(tmp_path):
    from cds_service.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    upgrade(engine)
    upgrade(engine)
    with engine.connect() as conn:
        names = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert {"returned_cards", "feedback", "alembic_version"} <= names and version == "0001"


def test_migrations_match_the_models(tmp_path):
    """Alembic autogenerate finds nothing to add: models.py and the migration agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from cds_service.db import make_engine, upgrade
    from cds_service.models import Base

    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_readyz_and_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ok", "database": "ok"}


def test_order_service_has_its_own_feedback_endpoint(client):
    assert client.post(ORDER + "/feedback", json={"feedback": [accepted(str(uuid.uuid4()))]}).status_code == 200


def test_feedback_entries_per_request_are_bounded(client, db_path):
    from cds_service.validation import MAX_FEEDBACK_ENTRIES

    too_many = [accepted(f"card-{i}", "s-1") for i in range(MAX_FEEDBACK_ENTRIES + 1)]
    resp = client.post(FEEDBACK, json={"feedback": too_many})
    assert resp.status_code == 400
    assert any("at most" in d for d in resp.get_json()["details"])
    assert rows(db_path, Feedback) == []  # nothing partially stored
    resp = client.post(FEEDBACK, json={"feedback": too_many[:MAX_FEEDBACK_ENTRIES]})
    assert resp.status_code == 200
    assert len(rows(db_path, Feedback)) == MAX_FEEDBACK_ENTRIES
