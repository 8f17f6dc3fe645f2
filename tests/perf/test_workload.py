"""The benchmark's request builders: complete prefetch, exact Observation counts for scaling."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import loadgen  # noqa: E402
import workload  # noqa: E402


@pytest.fixture(scope="module")
def demo():
    return workload.load_demo(str(workload.find_demo_patient()))


def test_patient_view_prefetch_answers_every_template(demo):
    req = workload.patient_view_request(demo)
    assert set(req["prefetch"]) == set(workload.prefetch_templates(workload.PATIENT_VIEW_SERVICE))
    assert req["prefetch"]["patient"]["id"] == demo["patient_id"]
    assert workload.count_observations(req["prefetch"]) > 0


def test_order_sign_carries_the_omalizumab_draft(demo):
    req = workload.order_sign_request(demo)
    draft = req["context"]["draftOrders"]["entry"][0]["resource"]
    assert draft["resourceType"] == "MedicationRequest" and draft["status"] == "draft"
    assert draft["subject"]["reference"] == f"Patient/{demo['patient_id']}"
    assert "omalizumab" in str(draft.get("medicationCodeableConcept")).lower()


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_scaled_prefetch_holds_exactly_n_observations_with_unique_ids(demo, n):
    base = workload.patient_view_request(demo)["prefetch"]
    scaled = workload.with_observations(base, n)
    assert workload.count_observations(scaled) == n
    ids = [e["resource"]["id"] for v in scaled.values() if isinstance(v, dict) and v.get("resourceType") == "Bundle"
           for e in v["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert len(ids) == len(set(ids))
    assert workload.count_observations(base) < 1000  # the original is not modified


def test_percentile_interpolates():
    values = [1.0, 2.0, 3.0, 4.0]
    assert loadgen._percentile(values, 50) == 2.5
    assert loadgen._percentile(values, 100) == 4.0
    assert loadgen._percentile([], 99) == 0.0
