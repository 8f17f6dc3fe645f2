"""The demo patient bundles: valid FHIR R4, codes the service knows, values that fit each scenario.

These checks are independent of the service's clinical core: the expected dose written in
index.json is recomputed here from the bundle's own values and the verified US Table 1 CSV, so a
bundle edit that silently changes the right answer fails here, not in a demo in front of people.
"""
from __future__ import annotations

import csv
import json
from datetime import date, datetime
from importlib import resources
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.medicationrequest import MedicationRequest

from demo import build_patients
from demo.store import ANCHOR_DATE, patient_index, raw_index, shift_dates, store_for

REPO = Path(__file__).resolve().parents[2]
PATIENTS = Path(resources.files("demo").joinpath("patients"))
TOPICS = {"omalizumab-dose", "omalizumab-dose-mismatch", "omalizumab-not-dosable", "omalizumab-not-preferred",
          "anti-il5-recommended", "leukotriene-modifier-recommended", "cyclosporine-unsafe",
          "food-allergy-omalizumab", "pemphigoid-itch-off-label", "data-needed", "data-unavailable"}
LB = 0.45359237  # kg per [lb_av], exact (clinical-reference.md section 6)
NG_PER_IU = 2.42  # ng IgE per IU (WHO IRP 75/502; clinical-reference.md section 6)


def _bundle(slug: str) -> dict:
    return json.loads((PATIENTS / f"{slug}.json").read_text(encoding="utf-8"))


def _resources(slug: str, rtype: str | None = None) -> list[dict]:
    return [e["resource"] for e in _bundle(slug)["entry"]
            if rtype is None or e["resource"]["resourceType"] == rtype]


def _obs(slug: str, *loincs: str) -> list[dict]:
    """Observations with one of the LOINC codes, newest first."""
    out = [o for o in _resources(slug, "Observation")
           if any(c["system"] == "http://loinc.org" and c["code"] in loincs for c in o["code"]["coding"])]
    return sorted(out, key=lambda o: o["effectiveDateTime"], reverse=True)


def _ige_iu(o: dict) -> float:
    q = o["valueQuantity"]
    return q["value"] / NG_PER_IU if q["code"] == "ng/mL" else float(q["value"])


def _kg(o: dict) -> float:
    q = o["valueQuantity"]
    return round(q["value"] * LB if q["code"] == "[lb_av]" else float(q["value"]), 1)


def _eos_per_ul(slug: str) -> list[tuple[str, float]]:
    """(date, cells/uL) per draw: absolute counts in any unit, or % x WBC of the same draw."""
    factor = {"/uL": 1, "10*3/uL": 1000, "10*9/L": 1000}
    out = [(o["effectiveDateTime"], o["valueQuantity"]["value"] * factor[o["valueQuantity"]["code"]])
           for o in _obs(slug, "711-2", "26449-9")]
    wbc = {o["effectiveDateTime"]: o["valueQuantity"]["value"] for o in _obs(slug, "6690-2")}
    out += [(o["effectiveDateTime"], round(wbc[o["effectiveDateTime"]] * 1000 * o["valueQuantity"]["value"] / 100))
            for o in _obs(slug, "713-8")]
    return sorted(out, reverse=True)


def _table1_cell(ige: float, kg: float) -> tuple[str, int | None, int | None]:
    """US PI Table 1 lookup with the label's band rule (first band closed below; lower < x <= upper)."""
    path = REPO / "clinical_core" / "data" / "dosing" / "us-asthma-12plus.csv"
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))

    def inside(x: float, lo: float, hi: float, first: bool) -> bool:
        return (lo <= x <= hi) if first else (lo < x <= hi)

    ige_first = min(float(r["ige_lower"]) for r in rows)
    wt_first = min(float(r["weight_lower"]) for r in rows)
    for r in rows:
        lo_i, hi_i, lo_w, hi_w = (float(r[k]) for k in ("ige_lower", "ige_upper", "weight_lower", "weight_upper"))
        if inside(ige, lo_i, hi_i, lo_i == ige_first) and inside(kg, lo_w, hi_w, lo_w == wt_first):
            return r["outcome"], int(r["dose_mg"]) if r["dose_mg"] else None, \
                int(r["interval_weeks"]) if r["interval_weeks"] else None
    return "outside-table", None, None


def test_generator_output_matches_committed_files():
    rendered = build_patients.render()
    for name, text in rendered.items():
        assert (PATIENTS / name).read_text(encoding="utf-8") == text, f"{name} is stale: run python -m demo.build_patients"
    on_disk = {p.name for p in PATIENTS.glob("*.json")} | {p.name for p in PATIENTS.glob("*.md")}
    assert on_disk == set(rendered)


@pytest.mark.parametrize("entry", raw_index()["patients"], ids=lambda e: e["slug"])
def test_bundle_is_valid_fhir_r4_and_us_core_shaped(entry):
    bundle = _bundle(entry["slug"])
    Bundle.model_validate(bundle)  # raises on any structural error
    assert bundle["type"] == "collection"
    patients = _resources(entry["slug"], "Patient")
    assert [p["id"] for p in patients] == [entry["patientId"]]
    for res in _resources(entry["slug"]):
        if res["resourceType"] == "Patient":
            continue
        ref = res.get("subject") or res.get("patient")
        assert ref == {"reference": f"Patient/{entry['patientId']}"}, res["id"]
        if res["resourceType"] == "Observation":
            assert res["status"] == "final"
            assert res["category"][0]["coding"][0]["code"] in ("laboratory", "vital-signs")
            for q in [res.get("valueQuantity")] + [c["valueQuantity"] for c in res.get("component", [])]:
                if q:
                    assert q["system"] == "http://unitsofmeasure.org" and q["code"], res["id"]
        if res["resourceType"] == "Condition":
            assert res["clinicalStatus"]["coding"][0]["code"] in ("active", "inactive", "resolved")
            assert res["verificationStatus"]["coding"][0]["code"] in ("confirmed", "refuted", "provisional")


def test_drafts_are_valid_medication_requests():
    for d in raw_index()["drafts"]:
        draft = store_for(ANCHOR_DATE).draft_for(d["id"], "demo-x")
        MedicationRequest.model_validate(draft)
        assert draft["status"] == "draft" and draft["subject"] == {"reference": "Patient/demo-x"}
        assert draft["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["code"] == "mg"


def test_index_lists_every_scenario_with_expected_topics_from_the_card_contract():
    index = raw_index()
    assert index["anchorDate"] == ANCHOR_DATE.isoformat()
    assert sorted(p["scenario"] for p in index["patients"]) == list(range(1, 13))
    for p in index["patients"]:
        assert "patient-view" in p["expected"]
        for hook, exp in p["expected"].items():
            assert hook in ("patient-view", "order-select", "order-sign")
            assert set(exp["must"]) | set(exp["may"]) <= TOPICS, (p["slug"], hook)
            if hook != "patient-view":
                assert exp["draft"] in {d["id"] for d in index["drafts"]}


def _codings(res: dict) -> list[dict]:
    out = []
    for key in ("code", "medicationCodeableConcept"):
        out += res.get(key, {}).get("coding", [])
    for comp in res.get("component", []):
        out += comp["code"]["coding"]
    return out


def _loinc_check_digit_ok(code: str) -> bool:
    body, check = code.split("-")
    digits = [int(c) for c in body]
    total = 0
    for i, d in enumerate(reversed(digits)):  # mod-10 (Luhn) over the body, rightmost doubled
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10 == int(check)


_VERHOEFF_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
               [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
               [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
               [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
_VERHOEFF_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
               [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
               [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]


def _verhoeff_ok(code: str) -> bool:
    c = 0
    for i, ch in enumerate(reversed(code)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


def test_every_code_is_well_formed_and_known_to_the_service_code_sets():
    from fhir_mappings import codesets

    loinc = codesets.loinc_index()
    snomed = codesets.snomed_index()
    rxnorm = codesets.rxcui_index()
    for p in raw_index()["patients"]:
        for res in _resources(p["slug"]):
            for c in _codings(res):
                system, code = c["system"], c["code"]
                if system == "http://loinc.org":
                    assert _loinc_check_digit_ok(code), code
                    if code not in ("2160-0", "85354-9"):  # creatinine shown for context; BP panel
                        assert code in loinc, f"{p['slug']}: LOINC {code} is not a usable service code"
                elif system == "http://snomed.info/sct":
                    assert _verhoeff_ok(code), code
            if res["resourceType"] == "Condition":
                # Every problem-list entry carries at least one code the service recognises (some
                # SNOMED ids are only [M] in the reference and are not matched; ICD-10-CM then is).
                known = [c for c in res["code"]["coding"]
                         if (c["system"] == "http://snomed.info/sct" and c["code"] in snomed)
                         or (c["system"] == "http://hl7.org/fhir/sid/icd-10-cm"
                             and codesets.icd10_lookup(c["code"]) is not None)]
                assert known, f"{p['slug']}: no recognised code on {res['code']['text']}"
            for c in _codings(res):
                system, code = c["system"], c["code"]
                if system == "http://hl7.org/fhir/sid/icd-10-cm":
                    assert codesets.icd10_lookup(code) is not None, f"{p['slug']}: ICD-10-CM {code} unknown"
                elif system == "http://www.nlm.nih.gov/research/umls/rxnorm":
                    assert code in rxnorm, f"{p['slug']}: RxNorm {code} unknown"


def test_reference_corrections_are_used():
    """Part 2 of the clinical reference wins: CIU 302162004, D. pteronyssinus 6096-2, peanut 6206-7."""
    everything = json.dumps([_bundle(p["slug"]) for p in raw_index()["patients"]])
    for good in ('"302162004"', '"6096-2"', '"6206-7"'):
        assert good in everything
    for bad in ('"402408009"', '"6095-7"', '"6206-3"', '"6096-8"'):
        assert bad not in everything


@pytest.mark.parametrize("entry", [p for p in raw_index()["patients"]
                                   if p["dose"] and p["dose"]["rule"].startswith("US PI Table 1")],
                         ids=lambda e: e["slug"])
def test_expected_table_dose_follows_from_the_bundle_values(entry):
    slug = entry["slug"]
    omalizumab_starts = [r["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]["start"]
                         for r in _resources(slug, "MedicationRequest")
                         if "omalizumab" in r["medicationCodeableConcept"]["text"]]
    ige_results = _obs(slug, "19113-0", "2462-0")
    if omalizumab_starts:  # the label: never dose from an IgE drawn on treatment
        first = min(omalizumab_starts)
        ige_results = [o for o in ige_results if o["effectiveDateTime"][:10] < first]
    ige = _ige_iu(ige_results[0])
    kg = _kg(_obs(slug, "29463-7")[0])
    outcome, mg, weeks = _table1_cell(ige, kg)
    assert (outcome, mg, weeks) == ("dose", entry["dose"]["mg"], entry["dose"]["intervalWeeks"]), (ige, kg)


def test_scenario_values_fit_their_definitions():
    # 1, 5, 11, 12: eosinophils below 150/uL now and below 300/uL all year: only the allergic phenotype.
    for slug in ("allergic-asthma-adult", "adolescent-asthma-csu", "missing-weight", "on-treatment"):
        assert max(v for _, v in _eos_per_ul(slug)) < 150, slug
    # 2: eosinophilic (>= 300 in the last year), not sensitised (IgE < 30, every sIgE < 0.35 kU/L).
    assert max(v for _, v in _eos_per_ul("eosinophilic-asthma")) >= 300
    assert _ige_iu(_obs("eosinophilic-asthma", "19113-0", "2462-0")[0]) < 30
    assert all(o["valueQuantity"]["value"] < 0.35 for o in _obs("eosinophilic-asthma", "6096-2", "6095-4"))
    # 4: eGFR < 60 and BP >= 140/90 on the last three readings, but not the critical thresholds.
    egfr = [o["valueQuantity"]["value"] for o in _obs("csu-ckd-hypertension", "98979-8")]
    assert egfr[0] < 60 and egfr[0] >= 30
    bps = [[c["valueQuantity"]["value"] for c in o["component"]] for o in _obs("csu-ckd-hypertension", "85354-9")]
    assert all(s >= 140 or d >= 90 for s, d in bps[:3]) and all(s < 180 and d < 110 for s, d in bps)
    # 5: adolescent (12-17), weight sent in pounds.
    assert _obs("adolescent-asthma-csu", "29463-7")[0]["valueQuantity"]["code"] == "[lb_av]"
    # 6: AERD by LTE4 >= 166 and not eosinophilic (newest < 150, none >= 300 in 12 months), not sensitised.
    assert _obs("aerd", "33343-5")[0]["valueQuantity"]["value"] >= 166
    eos = _eos_per_ul("aerd")
    assert eos[0][1] < 150 and max(v for _, v in eos) < 300
    assert all(o["valueQuantity"]["value"] < 0.35 for o in _obs("aerd", "6096-2", "6095-4"))
    # 10: IgE above 700 IU/mL in every unit it was sent in; eosinophilic.
    assert all(_ige_iu(o) > 700 for o in _obs("out-of-table-ige", "19113-0", "2462-0"))
    assert _eos_per_ul("out-of-table-ige")[0][1] >= 150
    # 11: no weight at all.
    assert _obs("missing-weight", "29463-7", "3141-9") == []
    # 12: an on-treatment IgE exists and is higher; weight band changed (>70-90 -> >90-150).
    ige = _obs("on-treatment", "19113-0")
    assert ige[0]["valueQuantity"]["value"] > ige[-1]["valueQuantity"]["value"]
    weights = [_kg(o) for o in _obs("on-treatment", "29463-7")]
    assert 70 < weights[-1] <= 90 < weights[0] <= 150


def test_mixed_units_as_labs_send_them():
    units = {o["valueQuantity"]["code"] for p in raw_index()["patients"]
             for o in _resources(p["slug"], "Observation") if "valueQuantity" in o}
    assert {"[IU]/mL", "k[IU]/L", "ng/mL", "/uL", "10*3/uL", "10*9/L", "%", "kg", "[lb_av]"} <= units


def test_several_results_over_time():
    for slug in ("allergic-asthma-adult", "csu-ckd-hypertension", "on-treatment"):
        dates = {o["effectiveDateTime"][:10] for o in _resources(slug, "Observation")}
        assert len(dates) >= 3, slug


def test_date_shift_moves_every_date_and_keeps_codes():
    today = date(2027, 3, 15)
    days = (today - ANCHOR_DATE).days
    store = store_for(today)
    assert store.shift_days == days
    raw = _bundle("on-treatment")
    shifted = store.bundles["on-treatment"]
    raw_pt, new_pt = raw["entry"][0]["resource"], shifted["entry"][0]["resource"]
    assert (date.fromisoformat(new_pt["birthDate"]) - date.fromisoformat(raw_pt["birthDate"])).days == days
    raw_obs = {e["resource"]["id"]: e["resource"] for e in raw["entry"]}
    for e in shifted["entry"]:
        res = e["resource"]
        if res["resourceType"] == "Observation":
            before = datetime.fromisoformat(raw_obs[res["id"]]["effectiveDateTime"])
            after = datetime.fromisoformat(res["effectiveDateTime"])
            assert (after - before).days == days and after.utcoffset() == before.utcoffset()
            assert res["code"] == raw_obs[res["id"]]["code"]  # "2462-0"-like codes untouched
    assert shift_dates({"a": "2026-11-01", "b": "19113-0", "c": "2026-11-01T08:00:00Z"}, 1) == \
        {"a": "2026-11-02", "b": "19113-0", "c": "2026-11-02T08:00:00Z"}
    # ANCHOR maps to today: the newest weight of the on-treatment patient stays 16 days old.
    newest = max(datetime.fromisoformat(r["effectiveDateTime"]).date() for r in store.all_of("Observation")
                 if r["subject"]["reference"] == "Patient/demo-on-treatment"
                 and r["code"]["coding"][0]["code"] == "29463-7")
    assert (today - newest).days == (ANCHOR_DATE - date(2026, 10, 16)).days


def test_dates_in_index_text_shift_with_the_data():
    shifted = {p["slug"]: p for p in patient_index(date(2026, 11, 11))}
    assert "since 2025-03-11" in shifted["on-treatment"]["summary"]  # stored "since 2025-03-01"
    assert "IgE 640 IU/mL (2026-06-20)" in shifted["on-treatment"]["summary"]
    assert shifted["allergic-asthma-adult"]["dose"]["rule"] == raw_index()["patients"][0]["dose"]["rule"]


def test_route_codes_are_the_ones_the_cards_layer_verified():
    routes = json.loads((REPO / "fhir_mappings" / "data" / "codesets" / "routes.json").read_text(encoding="utf-8"))
    verified = {r["code"] for r in routes["routes"].values()}
    drafts = [store_for(ANCHOR_DATE).draft_for(d["id"], "x") for d in raw_index()["drafts"]]
    requests_ = drafts + [r for p in raw_index()["patients"] for r in _resources(p["slug"], "MedicationRequest")]
    used = {c["code"] for r in requests_ for d in r["dosageInstruction"] for c in d.get("route", {}).get("coding", [])}
    assert used and used <= verified
