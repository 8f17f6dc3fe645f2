"""The real pipeline end to end (mappings, core, cards) behind the real HTTP layer and the CLI.

Patient data comes from the demo chart for scenario 1 (severe allergic asthma, adult) with dates as
written (anchor 2026-11-01, clock 2026-11-22), grouped into prefetch keys by the discovery templates.
"""
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sqlalchemy import create_engine, select

import fhir_mappings
from cds_service.models import Feedback, ReturnedCard
from svc_helpers import FEEDBACK, FHIR, ORDER, PV, hook_request

ROOT = Path(__file__).resolve().parents[2]
PATIENTS = ROOT / "demo" / "patients"


def _chart(slug: str) -> tuple[str, list[dict]]:
    text = (PATIENTS / f"{slug}.json").read_text()
    bundle = json.loads(text)
    resources = [e["resource"] for e in bundle["entry"]]
    pid = next(r["id"] for r in resources if r["resourceType"] == "Patient")
    return pid, json.loads(json.dumps(resources).replace("{{patientId}}", pid))


def _group(resources: list[dict], pid: str) -> dict:
    """Prefetch as a client would answer the discovery templates."""
    out: dict = {}
    for key, template in fhir_mappings.prefetch_templates().items():
        path, _, query = template.partition("?")
        if key == "patient":
            out[key] = next(r for r in resources if r["resourceType"] == "Patient")
            continue
        codes = {c.split("|", 1)[1] for c in parse_qs(query).get("code", [""])[0].split(",") if "|" in c}
        matched = [r for r in resources if r["resourceType"] == path and (
            not codes or any(c.get("code") in codes for c in (r.get("code") or {}).get("coding", [])))]
        out[key] = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in matched]}
    return out


def _draft(slug: str, pid: str) -> dict:
    return json.loads((PATIENTS / f"{slug}.json").read_text().replace("{{patientId}}", pid))


def topics(resp) -> list[str]:
    return [c["source"]["topic"]["code"] for c in resp.get_json()["cards"]]


@pytest.fixture
def chart():
    pid, resources = _chart("allergic-asthma-adult")
    return pid, _group(resources, pid)


def test_patient_view_real_pipeline_cards_are_valid_recorded_and_joinable(client, chart, app_config, tmp_path):
    from cards import validate_card

    pid, prefetch = chart
    resp = client.post(PV, json=hook_request(prefetch=prefetch, pid=pid))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    cards = resp.get_json()["cards"]
    assert "omalizumab-dose" in topics(resp)
    for card in cards:
        validate_card(card)
        assert len(card["summary"]) < 140
    dose = next(c for c in cards if c["source"]["topic"]["code"] == "omalizumab-dose")
    suggestion = dose["suggestions"][0]
    client.application.extensions["cds_card_log"].flush()  # write-behind: rows land within 50 ms
    engine = create_engine(app_config["CDS_DATABASE_URL"])
    with engine.connect() as conn:
        logged = {r.card_uuid: r for r in conn.execute(select(ReturnedCard.__table__))}
    assert set(logged) == {c["uuid"] for c in cards}
    assert logged[dose["uuid"]].topic == "omalizumab-dose"
    assert suggestion["uuid"] in json.loads(logged[dose["uuid"]].suggestion_uuids)
    fb = {"card": dose["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion["uuid"]}],
          "outcomeTimestamp": "2026-11-22T09:00:00Z"}
    assert client.post(FEEDBACK, json={"feedback": [fb]}).get_json() == {"stored": 1, "duplicates": 0}
    with engine.connect() as conn:
        row = conn.execute(select(Feedback.__table__)).one()
    assert row.card_known and row.topic == "omalizumab-dose" and json.loads(row.unknown_suggestions) == []


def test_fetch_path_real_pipeline_with_a_failing_fhir_server_gives_a_partial_answer(make_client, chart):
    pid, prefetch = chart
    client = make_client(CDS_ALLOWED_FHIR_SERVERS=FHIR)
    templates = fhir_mappings.prefetch_templates()

    def serve(request):
        parts = urlsplit(request.url)
        path = parts.path.split("/r4/", 1)[1]
        query = parse_qs(parts.query)
        for key, template in templates.items():
            t_path, _, t_query = template.partition("?")
            if t_path == path and parse_qs(t_query).get("code") == query.get("code"):
                if key == "egfr":
                    return 500, {}, "{}"
                return 200, {}, json.dumps(prefetch[key])
        return 404, {}, "{}"

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, re.compile(re.escape(FHIR) + r"/.*"), callback=serve)
        resp = client.post(PV, json=hook_request(prefetch={"patient": prefetch["patient"]}, pid=pid,
                                                 fhir_server=FHIR, token="tok"))
        fetched = len(rsps.calls)
    assert resp.status_code == 200
    assert fetched == len(templates) - 1
    found = topics(resp)
    assert "data-unavailable" in found and "omalizumab-dose" in found
    partial = next(c for c in resp.get_json()["cards"] if c["source"]["topic"]["code"] == "data-unavailable")
    assert partial["indicator"] == "warning"


def test_order_select_real_pipeline_flags_a_dose_mismatch(client, chart):
    pid, prefetch = chart
    body = hook_request("order-select", prefetch=prefetch, pid=pid)
    draft = _draft("draft-omalizumab-150mg-q4w", pid)
    body["context"]["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": draft}]}
    body["context"]["selections"] = [f"MedicationRequest/{draft['id']}"]
    resp = client.post(ORDER, json=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert "omalizumab-dose-mismatch" in topics(resp)


def test_cli_evaluate_prints_a_table_and_the_exact_json(chart, tmp_path, monkeypatch, capsys):
    from cds_service.cli import main

    pid, prefetch = chart
    request = tmp_path / "request.json"
    request.write_text(json.dumps(hook_request(prefetch=prefetch, pid=pid)))
    monkeypatch.setenv("CDS_CLOCK", "2026-11-22")
    assert main(["evaluate", str(request)]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:3] == ["INDICATOR", "TOPIC", "SUMMARY"]
    assert "omalizumab-dose" in table and "suggestion:" in table
    assert main(["evaluate", str(request), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "omalizumab-dose" in [c["source"]["topic"]["code"] for c in result["cards"]]


def test_cli_evaluate_reports_invalid_requests_and_412(tmp_path, capsys):
    from cds_service.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hook": "patient-view"}))
    assert main(["evaluate", str(bad)]) == 2
    assert "hookInstance" in capsys.readouterr().err
    no_patient = tmp_path / "np.json"
    no_patient.write_text(json.dumps(hook_request(prefetch={})))
    assert main(["evaluate", str(no_patient)]) == 3
    assert "OperationOutcome" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.json")]) == 2


def test_cli_evaluate_says_when_it_will_not_read_the_fhir_server(chart, tmp_path, capsys):
    from cds_service.cli import main

    pid, prefetch = chart
    request = tmp_path / "request.json"
    request.write_text(json.dumps(hook_request(prefetch=prefetch, pid=pid, fhir_server=FHIR,
                                                    token="secret-fhir-token")))
    assert main(["evaluate", str(request), "--json"]) == 0
    captured = capsys.readouterr()
    assert "CDS_ALLOWED_FHIR_SERVERS" in captured.err
    assert "secret-fhir-token" not in captured.err + captured.out
    assert json.loads(captured.out)["cards"]


@pytest.mark.parametrize("slug", [p["slug"] for p in json.loads((PATIENTS / "index.json").read_text())["patients"]])
def test_evaluation_never_writes_to_the_request(slug, app_config):
    """The pipeline indexes the request's own resources (no copies): no layer may change them."""
    import copy

    from cds_service.pipeline import evaluate
    from cds_service.settings import Settings

    pid, resources = _chart(slug)
    settings = Settings.from_env(overrides=app_config)
    draft = _draft("draft-omalizumab-150mg-q4w", pid)
    for hook, extra in (("patient-view", {}),
                        ("order-sign", {"draftOrders": {"resourceType": "Bundle", "type": "collection",
                                                        "entry": [{"resource": draft}]}})):
        body = hook_request(hook=hook, prefetch=_group(resources, pid), pid=pid)
        body["context"].update(extra)
        before = copy.deepcopy(body)
        result = evaluate(body, settings=settings)
        assert isinstance(result["cards"], list)
        assert body == before, f"{slug} {hook}: the request was modified"
