"""The real CDS Hooks Sandbox drives the service end to end in headless Chromium, authentication ON.

What the Sandbox renders is compared with what the service actually answered (captured from the
browser's own traffic), card by card: summary, indicator, source, the markdown detail's tables and
text, suggestion and link labels, dismiss controls.  Screenshots of every view: artifacts/sandbox/.
"""
from __future__ import annotations

import json
import re
import time

import pytest
from sqlalchemy import create_engine, text

from sbx_stack import ARTIFACTS
from demo.sandbox import sandbox_url
from demo.store import raw_index
from sbx_cards import card_mismatches, sandbox_order
from sbx_driver import SandboxTab

pytestmark = pytest.mark.browser

PATIENTS = raw_index()["patients"]
PV = "/cds-services/omalizumab-patient-view"
ORDER_SELECT = "/cds-services/omalizumab-order-select"
ORDER_SIGN = "/cds-services/omalizumab-order-review"
CKD = "demo-csu-ckd-hypertension"
SANDBOX_DEFAULT_DISCOVERY = "https://sandbox-services.cds-hooks.org/cds-services"


def _topic(card: dict) -> str:
    return ((card.get("source") or {}).get("topic") or {}).get("code", "")


def _rows(database_url: str, sql: str, **params) -> list[dict]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def _feedback_rows(stack, card_uuid: str, wait: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + wait
    while True:
        rows = _rows(stack.database_url, "SELECT * FROM feedback WHERE card_uuid = :u", u=card_uuid)
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def _patient_view(tab: SandboxTab, stack, patient_id: str):
    exchange = tab.open(sandbox_url(stack.sandbox, stack.base, patient_id), PV)
    assert exchange.status == 200, exchange.body
    rendered = tab.wait_rendered(len(exchange.body["cards"]))
    return exchange, rendered


def _pick_cyclosporine(tab: SandboxTab) -> str:
    """Type in the Rx View / Rx Sign medication box and choose a cyclosporine product from the list."""
    page = tab.page
    page.fill("input[name='medication-input']", "cyclosporine")
    option = page.get_by_text(re.compile(r"^cyclosporine, modified 100 MG Oral Capsule \[Neoral\]$", re.I))
    option.wait_for()
    name = option.inner_text()
    option.click()
    return name


def _drafts_cyclosporine(request: dict) -> bool:
    """The Sandbox calls the order service on entering Rx View too, before a medication is chosen."""
    entries = ((request.get("context") or {}).get("draftOrders") or {}).get("entry") or ()
    return any("cyclosporine" in json.dumps(e.get("resource", {}).get("medicationCodeableConcept", "")).lower()
               for e in entries)


def _check_stack_log(stack, since: int) -> None:
    """The service's log: no JWKS fetched, no token refused (from offset `since`), preflights answered."""
    log = stack.log()
    assert stack.events("jwks_fetch") == []  # the internet jku (or any JWKS URL) is never fetched
    assert stack.events("auth_failed", since) == []
    for path in ("/cds-services", "/cds-services/<service_id>"):  # CORS preflights answered
        assert f'"method":"OPTIONS","path":"{path}","status":200' in log, path


# -- patient-view for every demo patient -------------------------------------------------------------
def test_patient_view_for_every_demo_patient_renders_the_returned_cards(context, stack):
    mark = len(stack.log())
    tab = SandboxTab(context, stack.base)
    failures = {}
    for p in PATIENTS:
        exchange, rendered = _patient_view(tab, stack, p["patientId"])
        cards = exchange.body["cards"]
        tab.screenshot(ARTIFACTS / f"patient-view-{p['scenario']:02d}-{p['slug']}.png")
        problems = card_mismatches(cards, rendered)
        must = set(p["expected"]["patient-view"]["must"])
        if not must <= {_topic(c) for c in cards}:
            problems.append(f"topics {[_topic(c) for c in cards]} lack {sorted(must)}")
        # what the Sandbox sent: its own prefetch (resolved against the demo FHIR server), no fhirAuthorization
        request = exchange.request
        if request.get("fhirServer") != stack.base + "/demo/fhir" or "fhirAuthorization" in request:
            problems.append(f"unexpected request fields: fhirServer={request.get('fhirServer')}")
        if "patient" not in (request.get("prefetch") or {}):
            problems.append(f"no prefetch.patient in the Sandbox's request: {sorted(request.get('prefetch') or {})}")
        if problems:
            failures[p["slug"]] = problems
    assert failures == {}, json.dumps(failures, indent=1)[:6000]
    tables = [t for r in tab.rendered() for t in r["tables"]]
    assert tables and all(t["head"] and t["rows"] for t in tables)  # the markdown detail is a real table
    # the Sandbox's own habits, all handled: POST {Type}/_search first, metadata and Patient listing
    methods = {(m, path) for m, path, _ in tab.fhir_calls}
    assert ("GET", "/metadata") in methods and ("GET", "/Patient") in methods
    assert any(m == "POST" and path.endswith("/_search") for m, path in methods)
    assert all(ct.startswith("application/x-www-form-urlencoded") for m, _, ct in tab.fhir_calls if m == "POST")
    # the only internet request is the Sandbox's built-in default discovery URL (it fails offline)
    assert set(tab.external) <= {SANDBOX_DEFAULT_DISCOVERY}, tab.external
    _check_stack_log(stack, mark)


def test_the_detail_table_is_readable(context, stack):
    tab = SandboxTab(context, stack.base)
    _, rendered = _patient_view(tab, stack, CKD)
    page = tab.page
    boxes = page.evaluate("""() => Array.from(document.querySelectorAll('div[class*="card-list__decision-card"] table'))
        .map(t => { const c = t.closest('div[class*="card-list__decision-card"]').getBoundingClientRect();
                    const b = t.getBoundingClientRect();
                    const cells = Array.from(t.querySelectorAll('td,th'));
                    return {inside: b.left >= c.left - 1 && b.right <= c.right + 1, width: b.width,
                            visible: cells.every(e => e.getBoundingClientRect().width > 8),
                            fontPx: parseFloat(getComputedStyle(cells[0]).fontSize)}; })""")
    assert boxes and all(b["inside"] and b["visible"] and b["fontPx"] >= 11 for b in boxes), boxes
    page.locator('div[class*="card-list__decision-card"] table').first.screenshot(
        path=str(ARTIFACTS / "patient-view-detail-table.png"))


# -- Rx View (order-select) and Rx Sign (order-sign) with a cyclosporine product ------------------
def test_rx_view_order_select_cyclosporine_and_accept_its_suggestion(context, stack):
    tab = SandboxTab(context, stack.base)
    _patient_view(tab, stack, CKD)
    tab.page.get_by_role("button", name="Rx View", exact=True).click()  # as a tester: the tab sets the hook
    exchange = tab.service_call(lambda: _pick_cyclosporine(tab), ORDER_SELECT, match=_drafts_cyclosporine)
    assert exchange.status == 200, exchange.body
    assert exchange.request["hook"] == "order-select"
    draft = exchange.request["context"]["draftOrders"]["entry"][0]["resource"]
    assert "cyclosporine" in json.dumps(draft["medicationCodeableConcept"]).lower()
    cards = exchange.body["cards"]
    rendered = tab.wait_rendered(len(cards))
    tab.screenshot(ARTIFACTS / "rx-view-order-select-cyclosporine.png")
    assert card_mismatches(cards, rendered) == []
    unsafe = [c for c in sandbox_order(cards) if _topic(c) == "cyclosporine-unsafe"]
    assert len(unsafe) == 1, [_topic(c) for c in cards]
    card = unsafe[0]
    index = sandbox_order(cards).index(card)
    assert card["indicator"] in ("warning", "critical") and card["indicator"] == expected_severity(stack, "order-select")
    assert rendered[index]["indicator"] == card["indicator"]  # and the Sandbox shows that severity
    assert card["suggestions"], "the cyclosporine-unsafe card offers no suggestion"
    suggestion = card["suggestions"][0]
    button = tab.card(index).get_by_role("button", name=suggestion["label"], exact=True)
    fb = tab.feedback(button.click, "omalizumab-order-select")
    assert fb.status == 200, fb.body
    assert fb.request["feedback"][0]["outcome"] == "accepted"
    rows = _feedback_rows(stack, card["uuid"])
    assert len(rows) == 1
    row = rows[0]
    assert row["outcome"] == "accepted" and row["card_known"] and row["topic"] == "cyclosporine-unsafe"
    assert json.loads(row["accepted_suggestions"]) == [suggestion["uuid"]]
    assert json.loads(row["unknown_suggestions"]) == []


def test_rx_sign_order_sign_cyclosporine_and_dismiss_with_an_override_reason(context, stack):
    mark = len(stack.log())
    tab = SandboxTab(context, stack.base)
    tab.page.goto(sandbox_url(stack.sandbox, stack.base, CKD, "rx-sign"))  # the URL `make sandbox` prints
    _pick_cyclosporine(tab)
    exchange = tab.service_call(lambda: tab.page.get_by_role("button", name="Sign Order").click(), ORDER_SIGN,
                                match=_drafts_cyclosporine)
    assert exchange.status == 200, exchange.body
    assert exchange.request["hook"] == "order-sign"
    cards = exchange.body["cards"]
    rendered = tab.wait_rendered(len(cards))
    tab.screenshot(ARTIFACTS / "rx-sign-order-sign-cyclosporine.png")
    assert card_mismatches(cards, rendered) == []
    ordered = sandbox_order(cards)
    card = next(c for c in ordered if _topic(c) == "cyclosporine-unsafe")
    index = ordered.index(card)
    assert card["indicator"] in ("warning", "critical") and rendered[index]["indicator"] == card["indicator"]
    assert card["indicator"] == expected_severity(stack, "order-sign")
    reason = card["overrideReasons"][0]
    tab.card(index).get_by_role("button", name="select dismiss reason").click()
    item = tab.page.get_by_role("menuitem", name=f"Override: {reason['display']}")
    fb = tab.feedback(item.click, "omalizumab-order-review")
    assert fb.status == 200, fb.body
    sent = fb.request["feedback"][0]
    assert sent["outcome"] == "overridden" and sent["overrideReason"]["reason"]["code"] == reason["code"]
    rows = _feedback_rows(stack, card["uuid"])
    assert len(rows) == 1
    row = rows[0]
    assert row["outcome"] == "overridden" and row["card_known"] and row["topic"] == "cyclosporine-unsafe"
    assert (row["override_code"], row["override_system"]) == (reason["code"], reason["system"])
    tab.wait_rendered(len(cards) - 1)  # the Sandbox drops the dismissed card
    _check_stack_log(stack, mark)


def _search(stack, resource_type: str) -> list[dict]:
    import requests

    bundle = requests.get(f"{stack.base}/demo/fhir/{resource_type}", params={"patient": CKD, "_count": "200"},
                          timeout=10).json()
    return [e["resource"] for e in bundle.get("entry") or ()]


def _codesets(name: str) -> dict:
    from sbx_stack import REPO

    return json.loads((REPO / "fhir_mappings" / "data" / "codesets" / name).read_text())


def expected_severity(stack, hook: str) -> str:
    """The cyclosporine-unsafe indicator the policy gives this patient, from the patient's own data on
    the demo FHIR server and the knowledge files (read, never hard-coded here): newest eGFR and blood
    pressure against clinical_core/data/policy.json's thresholds; at order-sign also a coded renal
    condition in renal_critical_conditions, and BP at or above the warning level on an antihypertensive
    (bp_uncontrolled_on_treatment_critical; agents from fhir_mappings' RxNorm code set)."""
    from sbx_stack import REPO

    policy = {k: v["value"] for k, v in json.loads(
        (REPO / "clinical_core" / "data" / "policy.json").read_text())["values"].items()}
    loinc = {}
    for c in _codesets("loinc.json")["codes"]:
        loinc.setdefault(c["concept"], set()).add(c["code"])
    egfr, bp = [], []
    for obs in _search(stack, "Observation"):
        codes = {c.get("code") for c in obs.get("code", {}).get("coding", ())}
        when = obs.get("effectiveDateTime", "")
        if codes & loinc["bp-panel"]:
            comp = {}
            for c in obs.get("component", ()):
                kind = {cd.get("code") for cd in c["code"]["coding"]}
                for concept in ("bp-systolic", "bp-diastolic"):
                    if kind & loinc[concept]:
                        comp[concept] = c["valueQuantity"]["value"]
            bp.append((when, comp.get("bp-systolic"), comp.get("bp-diastolic")))
        elif codes & loinc["egfr"]:
            egfr.append((when, obs["valueQuantity"]["value"]))
    assert egfr and bp, "the CKD/hypertension demo patient has no eGFR or blood pressure"
    gfr = max(egfr)[1]
    _, systolic, diastolic = max(bp)
    bp_high = systolic >= policy["bp_warn_systolic"] or diastolic >= policy["bp_warn_diastolic"]
    if (gfr < policy["egfr_critical_below"] or systolic >= policy["bp_critical_systolic"]
            or diastolic >= policy["bp_critical_diastolic"]):
        return "critical"
    assert gfr < policy["egfr_warn_below"] or bp_high, (gfr, systolic, diastolic)
    if hook != "order-sign":
        return "warning"
    renal = set(policy.get("renal_critical_conditions") or ())
    renal_codes = [(c["code"], c.get("match") == "prefix") for f in ("snomed.json", "icd10cm.json")
                   for c in _codesets(f)["codes"] if c.get("use", True) and c.get("concept") in renal]

    def renal_code(code: str) -> bool:
        return any(code == want or (prefix and code.startswith(want)) for want, prefix in renal_codes)

    conditions = [c for c in _search(stack, "Condition")
                  if (c.get("clinicalStatus", {}).get("coding") or [{}])[0].get("code", "active") == "active"]
    if any(renal_code(cd.get("code", "")) for c in conditions for cd in c.get("code", {}).get("coding", ())):
        return "critical"
    agents = [a for a in _codesets("rxnorm.json")["agents"] if a["drug_class"] == "antihypertensive"]
    names = {n.lower() for a in agents for n in (a.get("names") or []) + (a.get("brands") or [])}
    rxcuis = {r for a in agents for r in [a.get("rxcui"), *(a.get("product_rxcuis") or [])] if r}
    on_treatment = False
    for med in _search(stack, "MedicationRequest") + _search(stack, "MedicationStatement"):
        if med.get("status") not in ("active", None):
            continue
        concept = med.get("medicationCodeableConcept") or {}
        words = json.dumps(concept).lower()
        if {c.get("code") for c in concept.get("coding", ())} & rxcuis or any(n in words for n in names):
            on_treatment = True
    if policy.get("bp_uncontrolled_on_treatment_critical") and bp_high and on_treatment:
        return "critical"
    return "warning"
