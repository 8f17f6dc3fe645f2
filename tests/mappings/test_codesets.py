"""Code-set data files: well-formed codes, confidence discipline, prefetch generated from them."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl

import pytest

from fhir_mappings import REQUIRED_PREFETCH_KEYS, prefetch_templates, rxnorm_for
from fhir_mappings import codesets as cs

# ---------------------------------------------------------------------------- check-digit algorithms
_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


def verhoeff_ok(number: str) -> bool:
    c = 0
    for i, ch in enumerate(reversed(number)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


def loinc_check_ok(code: str) -> bool:
    """LOINC mod-10 (Luhn-equivalent): digits before the hyphen, check digit after it."""
    m = re.fullmatch(r"(\d{1,7})-(\d)", code)
    if not m:
        return False
    digits = m.group(1) + m.group(2)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def test_check_digit_algorithms_on_known_codes():
    # known-good codes (LOINC table / SNOMED) and the malformed ones the reference caught
    assert loinc_check_ok("19113-0") and loinc_check_ok("8480-6") and loinc_check_ok("2160-0")
    for bad in ("6095-7", "6206-3", "6096-8", "19113-1"):
        assert not loinc_check_ok(bad), bad
    assert verhoeff_ok("195967001") and verhoeff_ok("302162004") and verhoeff_ok("10692681000119108")
    assert not verhoeff_ok("195967002")


def _all_loinc():
    return cs.load_json("codesets/loinc.json")["codes"]


@pytest.mark.parametrize("entry", _all_loinc(), ids=lambda e: e["code"])
def test_every_loinc_code_has_a_valid_check_digit(entry):
    assert loinc_check_ok(entry["code"]), entry["code"]


def test_rejected_loinc_codes_fail_their_check_digit_or_are_documented():
    for e in cs.load_json("codesets/loinc.json")["rejected"]:
        assert e["why"]
    for code in ("6095-7", "6206-3", "6096-8"):
        assert not loinc_check_ok(code)
        assert code not in cs.loinc_index()


@pytest.mark.parametrize("entry", cs.load_json("codesets/snomed.json")["codes"], ids=lambda e: e["code"])
def test_every_snomed_code_has_a_valid_verhoeff_digit(entry):
    assert entry["code"].isdigit() and 6 <= len(entry["code"]) <= 18
    assert verhoeff_ok(entry["code"]), entry["code"]


@pytest.mark.parametrize("fname", ["loinc.json", "snomed.json", "icd10cm.json"])
def test_every_entry_has_confidence_and_source_and_unverified_is_never_used(fname):
    data = cs.load_json(f"codesets/{fname}")
    sources = data.get("sources", {})
    for e in data["codes"]:
        assert e["confidence"] in ("V", "V2", "unverified"), e
        assert e["source"], e
        if e["confidence"] == "unverified":
            assert e["use"] is False, e
        # a named source key must exist in the file's source list
        if re.fullmatch(r"[a-z0-9-]+", e["source"]):
            assert e["source"] in sources, e


def test_rxnorm_entries_have_confidence_source_names_and_brands():
    data = cs.load_json("codesets/rxnorm.json")
    for a in data["agents"]:
        assert a["confidence"] in ("V", "V2", "unverified")
        assert a["source"]
        assert a["names"], a["agent"]
        if a["coding_ok"]:
            assert a["confidence"] in ("V", "V2") and a["rxcui"]
        if a["rxcui"]:
            assert a["rxcui"].isdigit()


def test_rxnorm_for_returns_only_verified_codes():
    assert rxnorm_for("cyclosporine") == ("3008", "cyclosporine")
    assert rxnorm_for("omalizumab") == ("302379", "omalizumab")
    assert rxnorm_for("montelukast") == ("88249", "montelukast")
    # unverified or unknown RXCUIs are never used to code a suggestion
    for agent in ("mepolizumab", "reslizumab", "benralizumab", "tezepelumab", "zileuton", "zafirlukast",
                  "cetirizine", "loratadine", "fexofenadine", "levocetirizine", "desloratadine"):
        assert rxnorm_for(agent) is None, agent
    assert rxnorm_for("no-such-drug") is None
    assert rxnorm_for(None) is None  # type: ignore[arg-type]


def test_unverified_rxcui_still_matches_input():
    assert cs.rxcui_index()["1720597"] == "mepolizumab"
    assert cs.rxcui_index()["1720601"] == "mepolizumab"


def test_names_and_brands_match_whole_words_longest_first():
    assert cs.agents_in_text("XYZAL 5 MG tablet") == ["levocetirizine"]
    assert cs.agents_in_text("levocetirizine 5 mg") == ["levocetirizine"]
    assert cs.agents_in_text("Cetirizine 10 mg") == ["cetirizine"]
    assert cs.agents_in_text("Xolair 150 mg/mL prefilled syringe") == ["omalizumab"]
    assert cs.agents_in_text("omalizumab-igec (Omlyclo)") == ["omalizumab"]
    assert cs.agents_in_text("Neoral 100 mg capsule") == ["cyclosporine"]
    assert cs.agents_in_text("cyclosporine 0.05% ophthalmic emulsion (Restasis)") == []
    assert cs.agents_in_text("Nucalab") == []


def test_prefetch_keys_and_shape():
    t = prefetch_templates()
    assert list(t) == ["patient", "totalIge", "eosinophils", "lte4", "weight", "egfr", "bloodPressure",
                       "specificIge", "conditions", "medicationRequests", "medicationStatements", "allergies"]
    assert t["patient"] == "Patient/{{context.patientId}}"
    assert REQUIRED_PREFETCH_KEYS == ("patient",)
    assert "clinical-status=active" in t["conditions"]
    # returned dict is a copy
    t["patient"] = "x"
    assert prefetch_templates()["patient"] == "Patient/{{context.patientId}}"


def test_observation_templates_use_only_recommended_query_subset_and_usable_codes():
    usable = cs.loinc_index()
    allowed = {"patient", "code", "_sort", "_count", "clinical-status"}
    for key, tpl in prefetch_templates().items():
        # tokens: only {{context.patientId}}
        assert set(re.findall(r"\{\{[^}]*\}\}", tpl)) <= {"{{context.patientId}}"}, key
        if "?" not in tpl:
            continue
        rtype, query = tpl.split("?", 1)
        params = dict(parse_qsl(query, keep_blank_values=True))
        assert set(params) <= allowed, (key, params)
        assert params["patient"] == "{{context.patientId}}"
        if rtype == "Observation":
            assert params["_sort"] == "-date"
            assert 0 < int(params["_count"]) <= 200
            for tok in params["code"].split(","):
                system, code = tok.split("|")
                assert system == "http://loinc.org"
                assert code in usable, (key, code)


def test_prefetch_groups_contain_the_expected_concepts():
    t = prefetch_templates()
    assert "19113-0" in t["totalIge"] and "2462-0" in t["totalIge"] and "76488-6" in t["totalIge"]
    assert "14292-7" not in t["totalIge"]  # molar IgE: not read
    for code in ("26449-9", "711-2", "713-8", "26450-7", "714-6", "6690-2", "26464-8"):
        assert code in t["eosinophils"]
    assert "712-0" not in t["eosinophils"]  # unverified
    assert "33343-5" in t["lte4"]
    assert "29463-7" in t["weight"] and "8335-2" not in t["weight"]
    assert "98979-8" in t["egfr"] and "33914-3" in t["egfr"]
    for code in ("85354-9", "8480-6", "8462-4"):
        assert code in t["bloodPressure"]
    assert "6096-2" in t["specificIge"] and "6206-7" in t["specificIge"]


def test_icd10_prefix_rules_pick_the_most_specific():
    assert cs.icd10_lookup("J45.50").concepts == ("severe-asthma",)
    assert cs.icd10_lookup("J45.909").concepts == ("asthma",)
    assert cs.icd10_lookup("J4550").concepts == ("severe-asthma",)
    assert cs.icd10_lookup("J33.9").concepts == ("nasal-polyps",)
    assert cs.icd10_lookup("I12.9").concepts == ("hypertension", "ckd")
    assert cs.icd10_lookup("Z91.0120").concepts == ("food-allergy",)
    assert cs.icd10_lookup("L50.9") is None
    assert cs.icd10_lookup("Z88.6") is None  # unverified, not used


def test_egg_allergy_snomed_resolved():
    idx = cs.snomed_index()
    assert idx["91930004"].concepts == ("food-allergy",)
    assert cs.snomed_substance_index()["91930004"] == "egg"
    assert cs.snomed_substance_index()["91934008"] == "tree nut"
    assert "40178009" not in idx and "402408009" not in idx
    assert idx["52756005"].concepts == ("nasal-polyps",)


# -- icd10_lookup's per-length table gives the scan's answer ----------------------------------------------
from unittest import mock  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _scan_in(rules, code):
    key = cs._icd_key(code)
    for rk, rule in rules:
        if key == rk or (rule.match == "prefix" and key.startswith(rk)):
            return rule
    return None


def test_icd10_table_equals_the_scan_on_every_rule_code_and_its_neighbours():
    codes = set()
    for rk, rule in cs.icd10_rules():
        for c in (rule.code, rk, rk[:-1], rk[:3], rk + "0", rk + "9X", rule.code.lower(), f" {rule.code} "):
            codes.add(c)
    for code in sorted(codes) + ["", "J", "L50.9", "Z88.6", "Z91.0120", "J45.909"]:
        assert cs.icd10_lookup(code) is cs._icd10_scan(code), code


@settings(max_examples=300, deadline=None)
@given(code=st.text(alphabet="JZINLR0123456789.X ", max_size=9))
def test_icd10_table_equals_the_scan_on_random_codes(code):
    assert cs.icd10_lookup(code) is cs._icd10_scan(code)


@settings(max_examples=300, deadline=None)
@given(rules=st.lists(st.tuples(st.text(alphabet="AB1", max_size=3), st.sampled_from(["exact", "prefix"])),
                      max_size=8),
       code=st.text(alphabet="AB1.", max_size=5))
def test_icd10_table_equals_the_scan_for_any_rule_set(rules, code):
    """Duplicated codes, an exact and a prefix rule for one code, an empty code: the first rule wins."""
    built = [(rk, cs.ConditionCode(cs.ICD10CM, rk, f"r{i}", (f"c{i}",), match)) for i, (rk, match) in enumerate(rules)]
    built = sorted(built, key=lambda r: -len(r[0]))
    with mock.patch.object(cs, "icd10_by_length", lambda: cs._by_length(built)):
        assert cs.icd10_lookup(code) is _scan_in(built, code)
