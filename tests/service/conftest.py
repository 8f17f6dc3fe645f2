"""Service-layer fixtures: isolation from the developer's CDS_* environment, evaluator spies."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).parent))  # svc_helpers.py (append: never shadow other dirs' modules)

from cds_service.settings import ENV_VARS  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_cds_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


class EvaluatorSpy:
    """An injected evaluator (CDS_EVALUATOR) that records what the HTTP layer passed down."""

    def __init__(self, cards=None) -> None:
        self.calls: list[dict] = []
        self.cards = cards if cards is not None else []

    def __call__(self, body, *, settings, fhir_client, now=None, **_):
        self.calls.append({"body": body, "settings": settings, "fhir_client": fhir_client})
        return {"cards": list(self.cards)}


@pytest.fixture
def spy():
    return EvaluatorSpy()


@pytest.fixture
def make_client(app_config):
    """Build a test client with config overrides: make_client(CDS_EVALUATOR=spy, ...)."""
    from cds_service import create_app

    apps = []

    def build(**overrides):
        config = dict(app_config)
        config.update(overrides)
        application = create_app(config)
        application.testing = True
        apps.append(application)
        return application.test_client()

    yield build
    for application in apps:
        application.extensions["cds_fhir_executor"].shutdown(wait=False, cancel_futures=True)


@pytest.fixture
def layer_spy(monkeypatch):
    """Replace the clinical layers' entry points with recorders around minimal real objects, so a
    test can assert exactly which data the pipeline passed down (the fetch paths)."""
    import cards
    import clinical_core
    import fhir_mappings
    from clinical_core.decisions import Assessment
    from clinical_core.facts import PatientFacts

    record: dict = {}

    def extract_facts(data, *, patient_id, evaluation_date, unavailable=(), resolve_reference=None):
        record.update(data=data, patient_id=patient_id, evaluation_date=evaluation_date,
                      unavailable=tuple(unavailable), resolve=resolve_reference)
        return PatientFacts(patient_id=patient_id, evaluation_date=evaluation_date,
                            unavailable=tuple(unavailable))

    def extract_draft_orders(draft_orders, selections, *, hook, resolve_reference=None):
        record.update(draft_orders=draft_orders, selections=selections, hook=hook)
        return ()

    def assess(facts, *, region="US"):
        record.update(region=region)
        return Assessment(phenotypes=(), decisions=())

    def check_orders(facts, drafts, *, hook, assessment, region="US"):
        record.update(checked_orders=True)
        return ()

    def build_cards(decisions, *, hook, patient_id, drafts=None):
        record.update(drafts_json=drafts)
        return []

    monkeypatch.setattr(fhir_mappings, "extract_facts", extract_facts)
    monkeypatch.setattr(fhir_mappings, "extract_draft_orders", extract_draft_orders)
    monkeypatch.setattr(clinical_core, "assess", assess, raising=False)
    monkeypatch.setattr(clinical_core, "check_orders", check_orders, raising=False)
    monkeypatch.setattr(cards, "build_cards", build_cards)
    return record
