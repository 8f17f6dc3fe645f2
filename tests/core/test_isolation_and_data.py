"""The core stays free of web/FHIR layers, and its knowledge files carry their sources."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import clinical_core
from clinical_core import knowledge

CORE = Path(clinical_core.__file__).parent
FORBIDDEN = ("flask", "requests", "fhir", "fhir_mappings", "cards", "cds_service", "sqlalchemy")


def test_core_source_imports_nothing_forbidden():
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] not in FORBIDDEN, f"{path.name} imports {n}"


def test_importing_the_core_loads_no_forbidden_module():
    code = ("import sys, clinical_core; from tests.core.builders import allergic_asthma; "
            "clinical_core.assess(allergic_asthma()); "
            f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]; print(bad); "
            "sys.exit(1 if bad else 0)")
    root = CORE.parent
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_policy_value_has_source_and_policy_note():
    values = knowledge.policy()
    for key in ("eosinophils_current_min", "eosinophils_12m_min", "ige_non_allergic_below", "lte4_elevated_above",
                "lte4_aerd_min", "egfr_warn_below", "egfr_critical_below", "bp_warn_systolic", "bp_warn_diastolic",
                "bp_critical_systolic", "bp_critical_diastolic", "bp_persistent_min_high", "bp_persistent_window",
                "weight_stale_months", "sensitisation_sige_min"):
        assert key in values, key
    for key, entry in values.items():
        assert entry["source"] and "policy" in entry["note"].lower(), key
        assert entry["url"].startswith("https://"), key
    assert knowledge.policy_value("eosinophils_current_min") == 150
    assert knowledge.policy_value("lte4_aerd_min") == 166 and knowledge.policy_value("lte4_elevated_above") == 104


def test_therapies_have_sources_and_verification_flags():
    regs = knowledge.therapies()
    for rid, reg in regs.items():
        assert isinstance(reg["verified"], bool) and reg["verified_note"], rid
        assert reg["sources"] and all(s["url"].startswith(("https://", "http://")) for s in reg["sources"]), rid
        assert reg["agent"] and reg["display"], rid
    res = regs["reslizumab-asthma-18plus"]
    assert (res["dose_value"], res["dose_unit"], res["route"], res["age_min"], res["verified"]) == (
        3, "mg/kg", "intravenous", 18, True)
    mepo = regs["mepolizumab-asthma-12plus"]
    assert (mepo["dose_value"], mepo["period"], mepo["period_unit"], mepo["age_min"]) == (100, 4, "wk", 12)


def test_data_files_are_loaded_once():
    assert knowledge.policy() is knowledge.policy()
    assert knowledge.dose_table("us-asthma-12plus") is knowledge.dose_table("us-asthma-12plus")
    assert knowledge.therapies() is knowledge.therapies()


def test_csu_fixed_dose_file():
    raw = json.loads((CORE / "data" / "dosing" / "csu-fixed.json").read_text())
    assert (raw["dose_mg"], raw["interval_weeks"], raw["alternative_dose_mg"], raw["age_min"]) == (300, 4, 150, 12)


def test_policy_thresholds_on_cards_are_read_from_the_policy_file():
    """A clinician who edits policy.json must see the new value on the card, not a stale literal: the notes
    are built from the file's values (once, at import), so other values give other notes."""
    from clinical_core import recommend
    from clinical_core.knowledge import PolicyValues, policy, policy_value

    changed = {"egfr_warn_below": 45, "lte4_aerd_min": 241, "eosinophils_current_min": 200}
    edited = {k: dict(v, value=changed.get(k, v["value"])) for k, v in policy().items()}
    text = recommend.policy_text(vars(PolicyValues(edited)))
    assert "eGFR < 45" in recommend.cyclosporine_policy_note(text)
    assert "241 supports AERD" in recommend.lte4_policy_note(text)
    assert "200/µL now" in recommend.eosinophil_policy_note(text)
    # the notes the cards carry are those of the real file
    real = recommend.policy_text(vars(PolicyValues(policy())))
    assert recommend.CYCLOSPORINE_POLICY_NOTE == recommend.cyclosporine_policy_note(real)
    assert recommend.LTE4_POLICY_NOTE == recommend.lte4_policy_note(real)
    assert recommend.EOSINOPHIL_POLICY_NOTE == recommend.eosinophil_policy_note(real)
    assert f"eGFR < {policy_value('egfr_warn_below')} " in recommend.CYCLOSPORINE_POLICY_NOTE


def test_policy_attributes_are_the_policy_file_values():
    """POLICY attributes (resolved once) are the very values policy_value reads from policy.json."""
    from clinical_core import phenotypes
    from clinical_core.knowledge import policy, policy_value, policy_values

    values = policy_values()
    assert phenotypes.P is values
    assert set(vars(values)) == set(policy())
    for key in policy():
        assert getattr(values, key) is policy_value(key)
    with pytest.raises(AttributeError):
        values.no_such_threshold  # noqa: B018 - a key the file lacks is an error, never a default
