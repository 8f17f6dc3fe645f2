"""Issue 15, part 4: a recency rule for the newest eosinophil count, and benralizumab's two-phase regimen."""
from __future__ import annotations

from datetime import date

import clinical_core
from clinical_core.knowledge import policy_value
from clinical_core.options import ANTI_IL5_REGIMENS, options
from tests.core.builders import cond, meas, mite_sige, patient


def _eosinophilic(on: date, value: float = 450):
    newest = meas("eosinophils", value, rid="eos-old", on=on)
    recent_peak = newest if on >= date(2025, 12, 1) else None  # the mapping's 12-month peak: None when older
    return patient(age_years=40, conditions=(cond("asthma"),), specific_ige=(mite_sige(0.1),),
                   eosinophils_latest=newest, eosinophils_max_12m=recent_peak)


def test_recency_window_is_policy_data():
    assert policy_value("eosinophils_current_max_age_months") == 12


def test_a_recent_count_decides_the_eosinophilic_phenotype():
    a = clinical_core.assess(_eosinophilic(date(2026, 9, 1)))
    assert a.finding("eosinophilic-asthma").status == "present"
    assert "anti-il5-recommended" in [d.topic for d in a.decisions]


def test_an_old_newest_count_is_not_now_and_asks_for_a_current_count():
    a = clinical_core.assess(_eosinophilic(date(2024, 3, 1)))  # 2.5 years before the evaluation date
    finding = a.finding("eosinophilic-asthma")
    assert finding.status == "unknown"
    assert any("older than 12 months" in m for m in finding.missing)
    assert "anti-il5-recommended" not in [d.topic for d in a.decisions]
    need = next(d for d in a.decisions if d.topic == "data-needed")
    assert "eosinophil count" in need.headline
    assert any("2024-03-01" in m for m in need.missing)  # the card says which count is too old


def test_the_window_edge_counts_as_current():
    # evaluation date 2026-11-22 (builders): a count exactly 12 months old is still current
    a = clinical_core.assess(_eosinophilic(date(2025, 11, 22)))
    assert a.finding("eosinophilic-asthma").status == "present"


def test_benralizumab_regimens_carry_the_loading_phase():
    adult = next(o for o in options(ANTI_IL5_REGIMENS, 40) if o.agent == "benralizumab")
    assert (adult.dose_value, adult.period, adult.initial_doses, adult.then_period) == (30, 4, 3, 8)
    child = next(o for o in options(ANTI_IL5_REGIMENS, 9) if o.agent == "benralizumab")
    assert child.dose_value is None and "35 kg" in child.display  # weight decides: 10 mg < 35 kg, 30 mg >= 35 kg
    assert (child.period, child.initial_doses, child.then_period) == (4, 3, 8)
    assert all(o.agent != "benralizumab" for o in options(ANTI_IL5_REGIMENS, 5))
