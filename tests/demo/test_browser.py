"""The EHR-sidebar page in headless Chromium (Debian's `chromium`, driven by Playwright; no download).

Runs every demo patient through patient-view as a user would (pick, run, read the cards), accepts a
suggestion and dismisses a card with a reason, and checks the feedback rows in the database. Screenshots
go to artifacts/demo/ (git-ignored). Expected topics come from demo/patients/index.json.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from demo.store import raw_index

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "demo"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PATIENTS = raw_index()["patients"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed (make browser, or apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, live_server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # Offline guarantee: nothing but this server may be contacted.
    pg.route("**/*", lambda route: route.continue_() if route.request.url.startswith(live_server.base)
             else (problems.append(f"external request: {route.request.url}"), route.abort()))
    pg.goto(live_server.base + "/")
    pg.wait_for_selector("#status[data-state='ready']")
    yield pg
    context.close()
    assert problems == [], problems  # CSP violations, JS errors and external requests all land here


def _run(pg, slug: str, hook: str) -> list[dict]:
    pg.select_option("#patient", slug)
    pg.select_option("#hook", hook)
    pg.click("#run")
    pg.wait_for_selector("#status[data-state='done'], #status[data-state='error']")
    assert pg.get_attribute("#status", "data-state") == "done", pg.inner_text("#cards")
    return pg.eval_on_selector_all("#cards article.card", """els => els.map(e => ({
        topic: e.dataset.topic, indicator: e.dataset.indicator, uuid: e.dataset.uuid,
        summary: e.querySelector('.summary').textContent,
        detailHtml: (e.querySelector('.detail') || {innerHTML: ''}).innerHTML,
        suggestions: Array.from(e.querySelectorAll('button.suggestion')).map(b => b.textContent)}))""")


def _feedback_rows(database_url: str, card_uuid: str) -> list[tuple]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                "SELECT outcome, accepted_suggestions, override_code, topic FROM feedback WHERE card_uuid = :u"),
                {"u": card_uuid})]
    finally:
        engine.dispose()


def test_every_demo_patient_through_patient_view(page):
    failures = []
    for p in PATIENTS:
        cards = _run(page, p["slug"], "patient-view")
        page.screenshot(path=str(ARTIFACTS / f"patient-view-{p['scenario']:02d}-{p['slug']}.png"), full_page=True)
        exp = p["expected"]["patient-view"]
        topics = {c["topic"] for c in cards}
        ok = set(exp["must"]) <= topics <= set(exp["must"]) | set(exp["may"]) | set(exp.get("anyOf", []))
        if exp.get("anyOf"):
            ok = ok and bool(set(exp["anyOf"]) & topics)
        if not ok:
            failures.append((p["slug"], sorted(topics), exp))
        for c in cards:  # rendered like an EHR sidebar: indicator class, summary, markdown detail
            assert c["indicator"] in ("info", "warning", "critical") and c["summary"].strip()
            assert "<script" not in c["detailHtml"].lower()
            assert "<p>" in c["detailHtml"] or "<ul>" in c["detailHtml"] or "<table>" in c["detailHtml"]
        banner = page.inner_text("[data-testid='patient-banner']")
        assert "MRN DEMO-" in banner, banner
    assert failures == []


def test_accept_a_suggestion_records_a_feedback_row(page, live_server):
    cards = _run(page, "allergic-asthma-adult", "patient-view")
    dose = next(c for c in cards if c["topic"] == "omalizumab-dose")
    assert "300 mg" in dose["summary"] and dose["suggestions"]
    card = page.locator(f"article.card[data-uuid='{dose['uuid']}']")
    card.locator("button.suggestion").first.click()
    status = card.locator(".feedback-status[data-recorded='true']")
    status.wait_for()
    assert "accepted" in status.inner_text()
    page.screenshot(path=str(ARTIFACTS / "feedback-accepted.png"), full_page=True)
    rows = _feedback_rows(live_server.database_url, dose["uuid"])
    assert len(rows) == 1
    outcome, accepted, _, topic = rows[0]
    assert outcome == "accepted" and topic == "omalizumab-dose" and len(json.loads(accepted)) == 1


def test_dismiss_cyclosporine_warning_with_an_override_reason(page, live_server):
    cards = _run(page, "csu-ckd-hypertension", "order-select")  # default draft: cyclosporine 150 mg bid
    warn = next(c for c in cards if c["topic"] == "cyclosporine-unsafe")
    assert warn["indicator"] in ("warning", "critical")
    card = page.locator(f"article.card[data-uuid='{warn['uuid']}']")
    card.locator("select.override-reason").select_option(index=1)
    card.locator("button.dismiss").click()
    card.locator(".feedback-status[data-recorded='true']").wait_for()
    page.screenshot(path=str(ARTIFACTS / "order-select-cyclosporine-dismissed.png"), full_page=True)
    rows = _feedback_rows(live_server.database_url, warn["uuid"])
    assert len(rows) == 1 and rows[0][0] == "overridden" and rows[0][2]


def test_edited_draft_order_is_checked_against_the_table(page):
    page.select_option("#patient", "allergic-asthma-adult")
    page.select_option("#hook", "order-sign")
    page.select_option("#draft", "draft-omalizumab-300mg-q4w")
    assert page.input_value("#draft-json").count("demo-allergic-asthma-adult") == 1
    cards = _run(page, "allergic-asthma-adult", "order-sign")
    assert "omalizumab-dose-mismatch" not in {c["topic"] for c in cards}
    draft = json.loads(page.input_value("#draft-json"))
    draft["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = 150
    page.fill("#draft-json", json.dumps(draft))
    page.click("#run")
    page.wait_for_selector("#status[data-state='done']")
    topics = page.eval_on_selector_all("#cards article.card", "els => els.map(e => e.dataset.topic)")
    assert "omalizumab-dose-mismatch" in topics
    page.screenshot(path=str(ARTIFACTS / "order-sign-edited-draft-mismatch.png"), full_page=True)
    # Accepting the update suggestion puts the corrected draft in the box; re-running finds no mismatch.
    page.locator("article.card[data-topic='omalizumab-dose-mismatch'] button.suggestion").first.click()
    page.wait_for_selector("#draft-json[data-applied]")
    corrected = json.loads(page.input_value("#draft-json"))
    assert corrected["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 300
    page.wait_for_selector("article.card .feedback-status[data-recorded='true']")
    page.click("#run")
    page.wait_for_selector("#status[data-state='done']")
    topics = page.eval_on_selector_all("#cards article.card", "els => els.map(e => e.dataset.topic)")
    assert "omalizumab-dose-mismatch" not in topics


def test_markdown_renderer_escapes_html(page):
    html = page.evaluate("""() => DemoMarkdown.render(
        '**Dose** <img src=x onerror=alert(1)>\\n\\n- a [label](https://example.org)\\n- [bad](javascript:alert(1))\\n\\n'
        + '| IgE | kg |\\n|---|---|\\n| 150 | 75 |\\n\\nband \\\\>100-200 IU/mL, 3 \\\\* 2')""")
    assert "<img" not in html and "&lt;img" in html
    assert "<strong>Dose</strong>" in html and "<table>" in html and "<td>150</td>" in html
    assert "band &gt;100-200 IU/mL, 3 * 2" in html  # GFM backslash escapes
    assert 'href="https://example.org"' in html and "javascript:" not in html.split("<a ")[-1].split(">")[0]
