"""Records the time of one in-process patient-view decision (mappings + core + cards, no HTTP).

pytest-benchmark records the figure; the <= 2 ms p50 target is checked by bench/run_bench.py, not
here (timing targets never fail unit tests).  The test still checks the decision is a real one.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import workload  # noqa: E402


@pytest.fixture(scope="module")
def patient_view():
    demo = workload.load_demo(str(workload.find_demo_patient()))
    request = workload.patient_view_request(demo)
    evaluation_date = date.fromisoformat(demo["clock"]) if demo["clock"] else date.today()
    return demo, request, evaluation_date


def decide(request: dict, evaluation_date: date) -> list[dict]:
    import cards
    import clinical_core
    import fhir_mappings

    patient_id = request["context"]["patientId"]
    facts = fhir_mappings.extract_facts(request["prefetch"], patient_id=patient_id,
                                        evaluation_date=evaluation_date)
    assessment = clinical_core.assess(facts)
    return cards.build_cards(assessment.decisions, hook="patient-view", patient_id=patient_id)


def test_patient_view_decision_in_process(benchmark, patient_view):
    demo, request, evaluation_date = patient_view
    result = benchmark(decide, request, evaluation_date)
    assert result, "the allergic-asthma demo patient must get at least one card"
    topics = {c["source"]["topic"]["code"] for c in result if c.get("source", {}).get("topic")}
    assert topics, "cards carry their topic code"
    assert all(c["indicator"] in ("info", "warning", "critical") for c in result)
