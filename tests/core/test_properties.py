"""Property tests: any combination of facts gives well-formed decisions, and every computed dose is a
label cell (checked against the hand-typed table in test_dose_tables, not the CSV)."""
from __future__ import annotations

import dataclasses
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

import clinical_core
from clinical_core.dosing import round_weight
from clinical_core.facts import IgeBaseline
from tests.core.builders import allergy, bp, cond, draft, ige, meas, med, mite_sige, patient
from tests.core.test_dose_tables import US_IGE_ROWS, US_TABLE_1, US_WEIGHT_COLS

CONCEPTS = ["asthma", "allergic-asthma", "eosinophilic-asthma", "csu", "nasal-polyps", "aerd", "food-allergy",
            "bullous-pemphigoid", "ckd", "hypertension"]
MEDS = [("cetirizine", "h1-antihistamine"), ("omalizumab", "anti-ige"), ("cyclosporine", "calcineurin-inhibitor"),
        ("montelukast", "leukotriene-modifier"), ("zileuton", "leukotriene-modifier")]


def _band(edges_labels, x, first_inclusive=True):
    for i, lab in enumerate(edges_labels):
        lo, hi = (float(v) for v in lab.split("-"))
        if (lo <= x <= hi) if i == 0 else (lo < x <= hi):
            return lab
    return None


facts_strategy = st.builds(
    lambda age, ige_v, ige_cmp, ige_status, wt, eos, eos_max, concepts, meds, sige, nsaid, lte4, egfr, sbp, dbp,
    unavailable: patient(
        age_years=age,
        total_ige=(IgeBaseline("missing", None) if ige_v is None else
                   ige(ige_v, status=ige_status, comparator=ige_cmp)),
        weight=None if wt is None else meas("weight", wt),
        eosinophils_latest=None if eos is None else meas("eosinophils", eos),
        eosinophils_max_12m=None if eos is None else meas("eosinophils", max(eos, eos_max)),
        conditions=tuple(cond(c) for c in concepts),
        medications=tuple(med(a, c) for a, c in meds),
        specific_ige=() if sige is None else (mite_sige(sige),),
        allergies=(allergy("aspirin-nsaid", "aspirin", respiratory=True),) if nsaid else (),
        lte4=None if lte4 is None else meas("lte4", lte4),
        egfr=None if egfr is None else meas("egfr", egfr),
        bp_latest=None if sbp is None else bp(sbp, dbp, date(2026, 11, 1), "bp-1"),
        unavailable=unavailable,
    ),
    age=st.one_of(st.none(), st.integers(0, 95)),
    ige_v=st.one_of(st.none(), st.floats(0.5, 3000, allow_nan=False)),
    ige_cmp=st.sampled_from([None, None, None, "<", ">"]),
    ige_status=st.sampled_from(["newest-no-omalizumab", "baseline-before-omalizumab", "only-on-treatment",
                                "retest-after-interruption"]),
    wt=st.one_of(st.none(), st.floats(3, 220, allow_nan=False)),
    eos=st.one_of(st.none(), st.floats(0, 2000, allow_nan=False)),
    eos_max=st.floats(0, 2000, allow_nan=False),
    concepts=st.lists(st.sampled_from(CONCEPTS), unique=True, max_size=6),
    meds=st.lists(st.sampled_from(MEDS), unique=True, max_size=4),
    sige=st.one_of(st.none(), st.floats(0, 100, allow_nan=False)),
    nsaid=st.booleans(),
    lte4=st.one_of(st.none(), st.floats(0, 1000, allow_nan=False)),
    egfr=st.one_of(st.none(), st.floats(5, 140, allow_nan=False)),
    sbp=st.one_of(st.none(), st.integers(80, 220)),
    dbp=st.integers(40, 130),
    unavailable=st.lists(st.sampled_from(["weight", "egfr", "totalIge"]), unique=True, max_size=2).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(f=facts_strategy, region=st.sampled_from(["US", "EU"]))
def test_any_facts_give_well_formed_decisions(f, region):
    a = clinical_core.assess(f, region=region)
    seen = set()
    for d in a.decisions:
        assert 0 < len(d.headline) < 140
        assert d.citation.url.startswith(("http://", "https://"))
        key = (d.topic, d.headline)
        assert key not in seen, key
        seen.add(key)
        if d.dose is not None:
            assert f"{d.dose.dose_mg} mg" in d.headline and f"every {d.dose.interval_weeks} weeks" in d.headline
    oma = [d for d in a.decisions if d.topic in ("omalizumab-dose", "omalizumab-not-dosable")]
    assert len(oma) <= 1
    assert ("data-unavailable" in [d.topic for d in a.decisions]) == bool(f.unavailable)
    for d in oma:
        if d.dose is None or d.dose.table_id != "us-asthma-12plus":
            continue
        # an automatic US dose: adult/adolescent, quantitative pre-treatment IgE, weight, hand-typed cell
        assert f.age_years is not None and f.age_years >= 12
        assert f.total_ige.status in ("newest-no-omalizumab", "baseline-before-omalizumab")
        m = f.total_ige.measurement
        assert m is not None and m.comparator is None
        row = _band(US_IGE_ROWS, m.value)
        col = _band(US_WEIGHT_COLS, round_weight(f.weight.value))
        assert (d.dose.dose_mg, d.dose.interval_weeks) == US_TABLE_1[row][US_WEIGHT_COLS.index(col)]
    for d in a.decisions:
        if d.topic == "omalizumab-dose" and d.dose.table_id == "csu-fixed":
            assert f.age_years is not None and f.age_years >= 12


@settings(max_examples=150, deadline=None)
@given(f=facts_strategy, hook=st.sampled_from(["order-select", "order-sign"]),
       agent=st.sampled_from(["omalizumab", "cyclosporine", "reslizumab", "mepolizumab", "montelukast"]),
       dose=st.one_of(st.none(), st.sampled_from([75, 150, 225, 300, 375, 450])),
       weeks=st.one_of(st.none(), st.sampled_from([2, 4])))
def test_order_checks_are_well_formed(f, hook, agent, dose, weeks):
    a = clinical_core.assess(f)
    out = clinical_core.check_orders(f, [draft(agent, dose, weeks=weeks)], hook=hook, assessment=a)
    patient_level = {dataclasses.replace(d, suggest_order=True, no_order_note="") for d in a.decisions}
    for d in out:
        assert len(d.headline) < 140
        if d.order_reference is None:
            # the patient-level conclusion, as patient-view shows it (at most without its order button)
            assert dataclasses.replace(d, suggest_order=True, no_order_note="") in patient_level
        else:
            assert d.order_reference == "MedicationRequest/draft-1"
        if d.topic == "omalizumab-dose-mismatch":
            assert d.dose is not None and (dose, weeks) != (d.dose.dose_mg, d.dose.interval_weeks)
        if d.indicator == "critical":
            assert hook == "order-sign" and d.topic == "cyclosporine-unsafe"
