"""Issue 15, class 1: an out-of-table value never gives an empty answer.

Every input that bounds a decision (total IgE, weight, age, eosinophils, LTE4, eGFR, blood pressure) is
walked just below, on, just above each limit and far outside, for each table the service knows (US PI
Table 1 >= 12 y, EU every-4-weeks, the CSU fixed dose, and the 'use label Table N' ones: US 6-11, nasal
polyps, food allergy), through patient-view, order-select and order-sign over HTTP. At every point the
answer has at least one card naming the phenotype, and the card that decides says what blocks or allows
the drug; where the outcome is fixed by the label or policy (dose inside the table, the exact limit named
outside it, critical or warning for cyclosporine) the test asserts it.
"""
from __future__ import annotations

import copy
from datetime import date

import pytest

from tests.e2e.hooks import call, draft, hook_request, patient_id_of, patient_resources, topics
from tests.e2e.variants import drop, drop_text, set_age, set_bp, set_condition_code, set_quantity

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
OMA_TOPICS = {"omalizumab-dose", "omalizumab-not-dosable", "data-needed", "omalizumab-not-preferred"}


@pytest.fixture(scope="module")
def eu_walk_client(tmp_path_factory):
    """An EU-region client without an entered app context (the module's US client holds one)."""
    from tests.e2e.conftest import client_for_region
    return client_for_region(tmp_path_factory, "EU")


def answers(client, resources: list[dict]) -> dict[str, list[dict]]:
    """The three hooks for one chart: patient-view, order-select with an omalizumab draft, order-sign with an
    omalizumab and a cyclosporine draft."""
    pid = patient_id_of(resources)
    oma, cyc = draft("draft-omalizumab-300mg-q4w", pid), draft("draft-cyclosporine-150mg-bid", pid)
    return {
        "patient-view": call(client, hook_request("patient-view", resources)),
        "order-select": call(client, hook_request("order-select", resources, drafts=[oma])),
        "order-sign": call(client, hook_request("order-sign", resources, drafts=[oma, cyc])),
    }


def text_of(cards: list[dict]) -> str:
    return " ".join(c["summary"] + " " + c.get("detail", "") for c in cards).lower()


def assert_named(out: dict[str, list[dict]], words: tuple[str, ...], where: str) -> None:
    for hook, cards in out.items():
        assert cards, f"{where}: empty answer at {hook}"
        assert any(w in text_of(cards) for w in words), f"{where}: no card names {words} at {hook}: {topics(cards)}"


def omalizumab_card(cards: list[dict]) -> dict:
    found = [c for c in cards if c["source"]["topic"]["code"] in OMA_TOPICS
             and any(w in (c["summary"] + c.get("detail", "")).lower() for w in ("omalizumab",))]
    assert found, f"no omalizumab answer: {topics(cards)}"
    return found[0]


# --- US PI Table 1 (asthma, >= 12 y) and the EU every-4-weeks table -------------------------------------

def _asthma(ige: float | None = None, weight: float | None = None, age: int | None = None) -> list[dict]:
    res = patient_resources("allergic-asthma-adult")  # sensitised (HDM), IgE 150 IU/mL, 75 kg, 42 y
    if ige is not None:
        set_quantity(res, ("total-ige",), ige, "[IU]/mL")
    if weight is not None:
        set_quantity(res, ("weight",), weight, "kg")
    if age is not None:
        set_age(res, age)
    return res


US_IGE = [(0.5, "below the table's lower limit of 30 IU/mL"), (29, "below the table's lower limit of 30 IU/mL"),
          (29.9, "below the table's lower limit of 30 IU/mL"), (30, None), (30.1, None), (100, None), (100.1, None),
          (700, None), (700.1, "above the table's upper limit of 700 IU/mL"),
          (701, "above the table's upper limit of 700 IU/mL"), (5000, "above the table's upper limit of 700 IU/mL")]


@pytest.mark.parametrize("ige,limit", US_IGE)
def test_us_table1_ige_walk(e2e_client, ige, limit):
    out = answers(e2e_client, _asthma(ige=ige))
    assert_named(out, ("asthma",), f"IgE {ige}")
    view = out["patient-view"]
    card = omalizumab_card(view)
    if limit is None:  # inside the table: a dose, or the label's own "insufficient data" cell named
        assert card["source"]["topic"]["code"] == "omalizumab-dose" or "(insufficient data)" in card["summary"], \
            card["summary"]
    else:
        assert card["source"]["topic"]["code"] == "omalizumab-not-dosable" and limit in card["summary"]
        # the same out-of-table answer on the omalizumab draft in both order hooks
        for hook in ("order-select", "order-sign"):
            drafted = omalizumab_card(out[hook])
            assert drafted["source"]["topic"]["code"] == "omalizumab-not-dosable" and limit in drafted["summary"]


US_WEIGHT = [(5, "below the table's lower limit of 30 kg"), (29.9, "below the table's lower limit of 30 kg"),
             (30, None), (30.1, None), (150, None), (150.1, "above the table's upper limit of 150 kg"),
             (151, "above the table's upper limit of 150 kg"), (400, "above the table's upper limit of 150 kg")]


@pytest.mark.parametrize("weight,limit", US_WEIGHT)
def test_us_table1_weight_walk(e2e_client, weight, limit):
    out = answers(e2e_client, _asthma(weight=weight))
    assert_named(out, ("asthma",), f"weight {weight}")
    card = omalizumab_card(out["patient-view"])
    if limit is None:
        assert card["source"]["topic"]["code"] == "omalizumab-dose"
    else:
        assert card["source"]["topic"]["code"] == "omalizumab-not-dosable" and limit in card["summary"]


@pytest.mark.parametrize("age,expect", [
    (1, "outside the label's asthma age range"), (5, "outside the label's asthma age range"),
    (6, "Table 2"), (11, "Table 2"), (12, "dose"), (13, "dose"), (90, "dose"), (110, "dose")])
def test_asthma_age_walk(e2e_client, age, expect):
    out = answers(e2e_client, _asthma(age=age))
    assert_named(out, ("asthma",), f"age {age}")
    card = omalizumab_card(out["patient-view"])
    if expect == "dose":
        assert card["source"]["topic"]["code"] == "omalizumab-dose"
    else:  # below 12 years: no automated dose; the card names the label table or the age limit
        assert card["source"]["topic"]["code"] == "omalizumab-not-dosable" and expect in card["summary"]


@pytest.mark.parametrize("ige", [29, 30, 1300, 1301, 3000])
@pytest.mark.parametrize("weight", [19.9, 20, 150, 150.1])
def test_us_table2_children_walk(e2e_client, ige, weight):
    """6-11 years: US Table 2 is not verified cell by cell, so never a dose: the card names Table 2 (inside)
    or the limit (outside)."""
    out = answers(e2e_client, _asthma(ige=ige, weight=weight, age=9))
    assert_named(out, ("asthma",), f"age 9, IgE {ige}, {weight} kg")
    card = omalizumab_card(out["patient-view"])
    assert card["source"]["topic"]["code"] == "omalizumab-not-dosable"
    assert "Table 2" in card["summary"] or "limit" in card["summary"], card["summary"]


@pytest.mark.parametrize("ige,weight,dosed", [
    (29, 75, False), (30, 75, True), (150, 75, True), (600, 75, True), (1500, 75, False), (1501, 75, False),
    (150, 19.9, False), (150, 20, True), (150, 150, True), (150, 150.1, False), (150, 400, False)])
def test_eu_q4w_walk(eu_walk_client, ige, weight, dosed):
    out = answers(eu_walk_client, _asthma(ige=ige, weight=weight))
    assert_named(out, ("asthma",), f"EU IgE {ige}, {weight} kg")
    card = omalizumab_card(out["patient-view"])
    code = card["source"]["topic"]["code"]
    if dosed:
        assert code == "omalizumab-dose" or "every 2 weeks" in card["summary"], card["summary"]
    else:
        assert code == "omalizumab-not-dosable", card["summary"]


# --- CSU fixed dose ------------------------------------------------------------------------------------

@pytest.mark.parametrize("age,ige,weight,dosed", [
    (11, None, None, False), (12, None, None, True), (13, None, None, True), (90, None, None, True),
    (34, 1, None, True), (34, 29, None, True), (34, 5000, None, True), (34, None, 10, True), (34, None, 400, True)])
def test_csu_fixed_dose_walk(e2e_client, age, ige, weight, dosed):
    res = patient_resources("csu-refractory")
    set_age(res, age)
    if ige is not None:
        set_quantity(res, ("total-ige",), ige, "[IU]/mL")
    if weight is not None:
        set_quantity(res, ("weight",), weight, "kg")
    out = answers(e2e_client, res)
    assert_named(out, ("urticaria", "csu"), f"CSU age {age}")
    card = omalizumab_card(out["patient-view"])
    if dosed:
        assert card["source"]["topic"]["code"] == "omalizumab-dose" and "300 mg" in card["summary"]
    else:
        assert card["source"]["topic"]["code"] == "omalizumab-not-dosable" and "12 years" in card["summary"]


# --- use-label-table-N indications ----------------------------------------------------------------------

@pytest.mark.parametrize("ige", [1, 29, 30, 700, 1500, 1501, 5000])
@pytest.mark.parametrize("weight", [29.9, 30, 150, 150.1])
def test_nasal_polyps_walk(e2e_client, ige, weight):
    res = patient_resources("nasal-polyps")
    set_quantity(res, ("total-ige",), ige, "[IU]/mL")
    set_quantity(res, ("weight",), weight, "kg")
    out = answers(e2e_client, res)
    assert_named(out, ("polyps",), f"polyps IgE {ige}, {weight} kg")
    card = omalizumab_card(out["patient-view"])
    assert card["source"]["topic"]["code"] == "omalizumab-not-dosable"  # Table 3 is not verified: never a dose


@pytest.mark.parametrize("ige", [1, 29, 30, 1850, 1851, 5000])
@pytest.mark.parametrize("weight", [9.9, 10, 150, 150.1])
@pytest.mark.parametrize("age", [0, 1, 9, 40])
def test_food_allergy_walk(e2e_client, ige, weight, age):
    res = patient_resources("food-allergy")
    set_quantity(res, ("total-ige",), ige, "[IU]/mL")
    set_quantity(res, ("weight",), weight, "kg")
    set_age(res, age)
    out = answers(e2e_client, res)
    assert_named(out, ("food allergy",), f"food IgE {ige}, {weight} kg, {age} y")
    assert "food-allergy-omalizumab" in topics(out["patient-view"])
    assert all(c["source"]["topic"]["code"] != "omalizumab-dose" for c in out["patient-view"])  # no automated dose


# --- eosinophils, LTE4 --------------------------------------------------------------------------------

def _eosinophilic(count: float, age: int | None = None) -> list[dict]:
    """The eosinophilic demo patient with one absolute count and no eosinophilic-asthma diagnosis, so the count
    alone decides (not sensitised, IgE 22 IU/mL)."""
    res = patient_resources("eosinophilic-asthma")
    drop(res, loinc=("eosinophils-percent", "wbc"))
    drop_text(res, "Condition", "eosinophilic")
    set_quantity(res, ("eosinophils-absolute",), count, "/uL")
    if age is not None:
        set_age(res, age)
    return res


@pytest.mark.parametrize("count,eosinophilic", [
    (0, False), (149, False), (149.9, False), (150, True), (150.1, True), (299, True), (300, True), (301, True),
    (5000, True)])
def test_eosinophil_walk(e2e_client, count, eosinophilic):
    out = answers(e2e_client, _eosinophilic(count))
    assert_named(out, ("eosinophil",), f"eos {count}")
    for hook, cards in out.items():
        assert ("anti-il5-recommended" in topics(cards)) == eosinophilic, (hook, topics(cards))
        if eosinophilic and hook != "patient-view":  # the omalizumab draft is the wrong tool
            assert "omalizumab-not-preferred" in topics(cards)


@pytest.mark.parametrize("age", [1, 5, 6, 11, 12, 17, 18])
def test_eosinophilic_asthma_at_every_age_has_an_answer(e2e_client, age):
    out = answers(e2e_client, _eosinophilic(450, age=age))
    assert_named(out, ("eosinophil",), f"eos 450 at {age} y")
    assert "anti-il5-recommended" in topics(out["patient-view"])


def _lte4(value: float) -> list[dict]:
    """The AERD demo patient with no AERD diagnosis and no aspirin/NSAID reaction: LTE4 alone decides."""
    res = patient_resources("aerd")
    drop_text(res, "Condition", "aspirin")
    drop(res, ids=[r["id"] for r in res if r["resourceType"] == "AllergyIntolerance"])
    set_quantity(res, ("lte4",), value, "pg/mg{creat}")
    return res


@pytest.mark.parametrize("value,expect", [
    (10, None), (103.9, None), (104, None), (104.1, "possible"), (165.9, "possible"), (166, "aerd"),
    (166.1, "aerd"), (5000, "aerd")])
def test_lte4_walk(e2e_client, value, expect):
    out = answers(e2e_client, _lte4(value))
    assert_named(out, ("asthma", "polyps"), f"LTE4 {value}")
    for hook, cards in out.items():
        t = topics(cards)
        assert ("leukotriene-modifier-recommended" in t) == (expect == "aerd"), (hook, t)
        if expect == "possible":
            assert "elevated, nonspecific" in text_of(cards), hook


# --- eGFR, blood pressure, coded CKD stage (cyclosporine) ---------------------------------------------

def _csu_kidney(*, egfr: float = 90, bp: tuple[float, float] = (120, 80), treated: bool = False,
                ckd_code: tuple[str, str] | None = None) -> list[dict]:
    """The CSU/CKD demo patient reduced to the one risk under test: no CKD or hypertension diagnosis and no
    antihypertensive unless asked."""
    res = patient_resources("csu-ckd-hypertension")
    drop_text(res, "Condition", "hypertension")
    if ckd_code is None:
        drop_text(res, "Condition", "kidney")
    else:
        kidney = next(r for r in res if r["resourceType"] == "Condition" and "kidney" in r["code"]["text"].lower())
        set_condition_code(res, kidney["id"], ICD10, *ckd_code)
    if not treated:
        drop_text(res, "MedicationRequest", "amlodipine|lisinopril")
    set_quantity(res, ("egfr",), egfr, "mL/min/{1.73_m2}")
    set_bp(res, *bp)
    return res


def _cyclosporine_at_sign(out) -> str | None:
    cards = [c for c in out["order-sign"] if c["source"]["topic"]["code"] == "cyclosporine-unsafe"]
    return cards[0]["indicator"] if cards else None


@pytest.mark.parametrize("egfr,severity", [
    (5, "critical"), (29, "critical"), (29.9, "critical"), (30, "warning"), (30.1, "warning"), (59.9, "warning"),
    (60, None), (60.1, None), (120, None)])
def test_egfr_walk(e2e_client, egfr, severity):
    out = answers(e2e_client, _csu_kidney(egfr=egfr))
    assert_named(out, ("urticaria", "csu"), f"eGFR {egfr}")
    assert _cyclosporine_at_sign(out) == severity
    if severity:  # order-select is never critical; patient-view warns against cyclosporine
        sel = [c for c in out["order-select"] if c["source"]["topic"]["code"] == "cyclosporine-unsafe"]
        view = [c for c in out["patient-view"] if c["source"]["topic"]["code"] == "cyclosporine-unsafe"]
        assert [c["indicator"] for c in sel + view] == ["warning", "warning"]


@pytest.mark.parametrize("bp,treated,severity", [
    ((139, 89), False, None), ((140, 89), False, "warning"), ((139, 90), False, "warning"),
    ((179, 109), False, "warning"), ((180, 109), False, "critical"), ((179, 110), False, "critical"),
    ((240, 140), False, "critical"),
    # on an antihypertensive, at or above 140/90 is uncontrolled hypertension (policy: critical at sign)
    ((139, 89), True, None), ((140, 89), True, "critical"), ((139, 90), True, "critical"),
    ((168, 102), True, "critical")])
def test_blood_pressure_walk(e2e_client, bp, treated, severity):
    out = answers(e2e_client, _csu_kidney(bp=bp, treated=treated))
    assert_named(out, ("urticaria", "csu"), f"BP {bp}")
    assert _cyclosporine_at_sign(out) == severity


@pytest.mark.parametrize("code,egfr,severity,disagree", [
    (("N18.4", "Chronic kidney disease, stage 4 (severe)"), 34, "critical", True),
    (("N18.4", "Chronic kidney disease, stage 4 (severe)"), 20, "critical", False),
    (("N18.5", "Chronic kidney disease, stage 5"), 70, "critical", True),
    (("N18.6", "End stage renal disease"), 12, "critical", False),
    (("Z99.2", "Dependence on renal dialysis"), 45, "critical", True),
    (("Z94.0", "Kidney transplant status"), 65, "critical", True),
    (("N18.32", "Chronic kidney disease, stage 3b"), 34, "warning", False),
    (("N18.32", "Chronic kidney disease, stage 3b"), 25, "critical", True),
    (("N18.2", "Chronic kidney disease, stage 2 (mild)"), 75, "warning", False)])
def test_coded_kidney_stage(e2e_client, code, egfr, severity, disagree):
    """Issue 15 class 3: a coded CKD G4/G5, ESRD, dialysis or transplant counts as eGFR < 30 at order-sign
    whatever the newest eGFR; a disagreement between the coded stage and the eGFR is said in one line."""
    out = answers(e2e_client, _csu_kidney(egfr=egfr, ckd_code=code))
    assert _cyclosporine_at_sign(out) == severity
    card = next(c for c in out["order-sign"] if c["source"]["topic"]["code"] == "cyclosporine-unsafe")
    lines = [line for line in card["detail"].splitlines() if "disagree" in line or "counts as eGFR below" in line]
    said = [line for line in lines if line.startswith("- ")]
    assert bool(said) == disagree, said
    if disagree:
        assert len(said) == 1 and str(egfr) in said[0]
    assert ("transplant team decides" in card["detail"]) == (code[0] == "Z94.0")
