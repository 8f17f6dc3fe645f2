"""The bench's workload families (bench/families.py): deterministic, realistic, every request answered."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import families  # noqa: E402


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from cds_service import create_app

    db = tmp_path_factory.mktemp("families") / "f.sqlite3"
    return create_app({"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{db}"}).test_client()


def test_demo_family_covers_every_demo_patient_and_indexed_draft():
    from demo import store

    reqs = families.demo_family()
    slugs = {p["slug"] for p in store.raw_index()["patients"]}
    assert {r["label"].split("/")[0] for r in reqs if r["hook"] == "patient-view"} == slugs
    expected_orders = sum(1 for p in store.raw_index()["patients"] for h in ("order-select", "order-sign")
                          if (p["expected"].get(h) or {}).get("draft"))
    assert sum(1 for r in reqs if r["hook"] != "patient-view") == expected_orders


def test_random_family_is_seeded_and_mixed():
    a, b = families.random_family(n_patients=12), families.random_family(n_patients=12)
    strip = [{k: v for k, v in r["body"].items() if k != "hookInstance"} for r in a]
    assert strip == [{k: v for k, v in r["body"].items() if k != "hookInstance"} for r in b]
    assert len({r["hook"] for r in a}) >= 2
    units = {q.get("code") for r in a for e in (r["body"]["prefetch"].get("totalIge") or {}).get("entry", [])
             for q in [e["resource"].get("valueQuantity") or {}]}
    assert len(units) >= 2, units
    assert any(len(r["body"]["context"].get("draftOrders", {}).get("entry", [])) >= 2 for r in a)
    assert all(families.observation_count(r["body"]) >= 4 for r in a)


@pytest.mark.parametrize("family", ["demo", "random"])
def test_every_family_request_is_answered(client, family):
    reqs = families.family_requests(family, limit=None if family == "demo" else 8)
    for r in reqs:
        resp = client.post(r["path"], data=json.dumps(r["body"]), content_type="application/json")
        assert resp.status_code == 200, (r["label"], resp.get_data()[:500])
        assert "cards" in resp.get_json()


def test_fetch_family_sends_no_prefetch():
    reqs = families.fetch_family("http://127.0.0.1:1/demo/fhir")
    assert reqs and all(r["body"]["prefetch"] == {} and r["body"]["fhirServer"].endswith("/demo/fhir") for r in reqs)
