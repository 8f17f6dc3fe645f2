"""The card log commits without waiting for the disk, and hands FULL durability back to feedback."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import workload  # noqa: E402
from cds_service import create_app  # noqa: E402
from cds_service.models import ReturnedCard  # noqa: E402

FULL = 2


def test_card_log_rows_written_and_pool_connections_back_to_full(tmp_path):
    demo = workload.load_demo(str(workload.find_demo_patient()))
    app = create_app({"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}",
                      "CDS_CLOCK": demo["clock"]})
    client = app.test_client()
    resp = client.post(f"/cds-services/{workload.PATIENT_VIEW_SERVICE}", json=workload.patient_view_request(demo))
    assert resp.status_code == 200
    uuids = {c["uuid"] for c in resp.get_json()["cards"]}
    app.extensions["cds_card_log"].flush()  # write-behind: rows land within 50 ms
    db = app.extensions["cds_db"]
    with db.session() as session:
        logged = set(session.execute(select(ReturnedCard.card_uuid)).scalars())
        assert uuids <= logged
        assert session.execute(text("PRAGMA synchronous")).scalar() == FULL
    # every pooled connection (the one the card log used included) is FULL again
    conns = [db.engine.connect() for _ in range(3)]
    try:
        assert [c.execute(text("PRAGMA synchronous")).scalar() for c in conns] == [FULL] * 3
    finally:
        for c in conns:
            c.close()
    fb = client.post(f"/cds-services/{workload.PATIENT_VIEW_SERVICE}/feedback",
                     json=workload.feedback_request(next(iter(uuids))))
    assert fb.status_code == 200
    with db.session() as session:
        assert session.execute(select(func.count()).select_from(ReturnedCard)).scalar() == len(uuids)
