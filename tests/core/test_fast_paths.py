"""The clinical core's fast paths give exactly the answers of the plain computation.

check_orders reuses the phenotype profile that assess built for the same facts object; these tests
compare it with a profile built afresh, on every demo patient and on hand-built facts.
"""
from __future__ import annotations

import dataclasses

import pytest

import clinical_core
from clinical_core.phenotypes import build_profile
from tests.core import builders as b
from tests.core.demo_inputs import demo_inputs, demo_slugs


def _without_profile(assessment):
    return dataclasses.replace(assessment, profile=None)


@pytest.mark.parametrize("slug", demo_slugs())
@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
@pytest.mark.parametrize("region", ["US", "EU"])
def test_check_orders_with_the_assess_profile_equals_a_fresh_profile(slug, hook, region):
    facts, drafts, _, _ = demo_inputs(slug, hook)
    assessment = clinical_core.assess(facts, region=region)
    assert assessment.profile is not None and assessment.profile.facts is facts
    reused = clinical_core.check_orders(facts, drafts, hook=hook, assessment=assessment, region=region)
    fresh = clinical_core.check_orders(facts, drafts, hook=hook, assessment=_without_profile(assessment),
                                       region=region)
    assert reused == fresh
    assert repr(reused) == repr(fresh)


def test_a_profile_is_reused_only_for_the_very_facts_it_was_built_from():
    asthma = b.allergic_asthma(weight=75.0)
    ckd = b.allergic_asthma(weight=75.0, extra_conditions=("ckd", "csu"),
                            medications=(b.med("cetirizine", "h1-antihistamine"),))
    drafts = (b.draft("cyclosporine", 150, "mg", 0.07, rid="cyc"), b.draft("omalizumab", 150, "mg", 4, rid="oma"))
    assessment_of_asthma = clinical_core.assess(asthma)
    # another patient's facts with this assessment: the profile must be built from `ckd`, not reused
    got = clinical_core.check_orders(ckd, drafts, hook="order-sign", assessment=assessment_of_asthma)
    want = clinical_core.check_orders(ckd, drafts, hook="order-sign",
                                      assessment=_without_profile(assessment_of_asthma))
    assert got == want
    assert any(d.topic == "cyclosporine-unsafe" for d in got)
    # equal but not identical facts: rebuilt (same answer either way)
    copy = dataclasses.replace(asthma)
    assert copy == asthma and copy is not asthma
    assert clinical_core.check_orders(copy, drafts, hook="order-sign", assessment=assessment_of_asthma) == \
        clinical_core.check_orders(asthma, drafts, hook="order-sign", assessment=assessment_of_asthma)


def test_the_profile_is_not_part_of_the_assessment_value():
    facts = b.allergic_asthma()
    one, two = clinical_core.assess(facts), clinical_core.assess(facts)
    assert one.profile is not two.profile
    assert one == two and "profile" not in repr(one)
    assert one.phenotypes == tuple(build_profile(facts).findings.values())


def test_dose_table_edges_and_cell_index_equal_the_scan_over_the_cells():
    from clinical_core.dosing import band_label
    from clinical_core.knowledge import TABLE_IDS, Cell, DoseTable, dose_table

    tables = [t for t in (dose_table(i) for i in TABLE_IDS) if t is not None]
    assert tables
    for table in tables:
        cells = table.cells
        assert table.ige_edges == tuple(sorted({c.ige_lower for c in cells} | {c.ige_upper for c in cells}))
        assert table.weight_edges == tuple(sorted({c.weight_lower for c in cells} | {c.weight_upper for c in cells}))
        for lo_i in table.ige_edges[:-1]:
            for lo_w in table.weight_edges[:-1]:
                scan = next(c for c in cells if c.ige_lower == lo_i and c.weight_lower == lo_w)
                assert table.cell_at(lo_i, lo_w) is scan
        for edges, unit, first in ((table.ige_edges, "IU/mL", "≥"), (table.weight_edges, "kg", "")):
            for i in range(len(edges) - 1):
                assert band_label(edges, i, unit, first_symbol=first) == \
                    band_label.__wrapped__(edges, i, unit, first_symbol=first)
    # duplicate cells: the first one wins, as the scan's next() did; an absent key raises as before
    a = Cell(0.0, 10.0, 0.0, 10.0, "dose", 75, 4, True, "a")
    b_ = Cell(0.0, 10.0, 0.0, 10.0, "dose", 150, 4, True, "b")
    dup = DoseTable(tables[0].meta, (a, b_))
    assert dup.cell_at(0.0, 0.0) is a and dup.ige_edges == (0.0, 10.0)
    with pytest.raises(StopIteration):
        dup.cell_at(5.0, 0.0)
    assert dup == DoseTable(tables[0].meta, (a, b_))


# ---------------------------------------------------------------------------------------------------
# assess / check_orders fast paths (number formatting, measurement rows, de-duplication, fact filters)
# against the reference forms kept in tests/core/reference_impl.py

import contextlib  # noqa: E402
import math  # noqa: E402
from datetime import date, datetime  # noqa: E402
from fractions import Fraction  # noqa: E402
from decimal import Decimal  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from clinical_core import dosing, evidence, facts as facts_module, orders, phenotypes, recommend  # noqa: E402
from tests.core import reference_impl as ref  # noqa: E402
from tests.core.demo_inputs import HOOKS  # noqa: E402
from tests.core.test_properties import facts_strategy  # noqa: E402


@contextlib.contextmanager
def _reference_forms():
    with pytest.MonkeyPatch.context() as mp:
        for module in (evidence, orders, phenotypes, recommend, dosing):
            mp.setattr(module, "fmt_num", ref.fmt_num)
        mp.setattr(evidence, "measurement", ref.measurement)
        mp.setattr(phenotypes, "_add", ref.add)
        mp.setattr(phenotypes.Profile, "ev", ref.profile_ev)
        mp.setattr(facts_module.PatientFacts, "conditions_of", ref.conditions_of)
        mp.setattr(facts_module.PatientFacts, "medications_of", ref.medications_of)
        mp.setattr(dosing, "round_weight", ref.round_weight)
        mp.setattr(phenotypes.Profile, "present", ref.profile_present)
        mp.setattr(recommend, "_uniq", ref.uniq)
        dosing.band_label.cache_clear()
        yield
    dosing.band_label.cache_clear()


def _answers(facts, drafts, hook, region):
    def run():
        assessment = clinical_core.assess(facts, region=region)
        out = [assessment.phenotypes, assessment.decisions]
        if hook != "patient-view":
            out.append(clinical_core.check_orders(facts, drafts, hook=hook, assessment=assessment, region=region))
        return out
    try:
        got = run()
        return ("ok", got, repr(got))
    except Exception as exc:  # noqa: BLE001 - a failure must be the same failure
        return ("raised", type(exc).__name__, str(exc))


@pytest.mark.parametrize("slug", demo_slugs())
@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("region", ["US", "EU"])
def test_assess_and_check_orders_equal_the_reference_forms_on_every_demo_patient(slug, hook, region):
    facts, drafts, _, _ = demo_inputs(slug, hook)
    fast = _answers(facts, drafts, hook, region)
    with _reference_forms():
        slow = _answers(facts, drafts, hook, region)
    assert fast == slow


@settings(max_examples=300, deadline=None)
@given(f=facts_strategy, region=st.sampled_from(["US", "EU"]),
       hook=st.sampled_from(["patient-view", "order-sign"]))
def test_assess_equals_the_reference_forms_on_generated_facts(f, region, hook):
    drafts = (b.draft("omalizumab", 150, "mg", 4, rid="oma"), b.draft("cyclosporine", 150, "mg", 0.07, rid="cyc"))
    fast = _answers(f, drafts, hook, region)
    with _reference_forms():
        slow = _answers(f, drafts, hook, region)
    assert fast == slow


NUMBERS = [0, 1, -1, 7, 150, 1500, 10**20, -0.0, 0.0, 0.35, 0.005, 0.015, 0.125, 1.005, 2.675, 60.05, 60.1, 75.0,
           1500.0, 1e-9, 1e16, 1.5e300, -12.345, 123456.789, 0.999, 9.995, True, False, float("nan"),
           float("inf"), float("-inf"), Decimal("1.5"), Decimal("2.675"), Decimal("7"), Fraction(3, 2),
           Fraction(4, 2), "12", None, [1], 3 + 0j]


def _fmt(fn, x):
    try:
        return ("ok", fn(x))
    except Exception as exc:  # noqa: BLE001
        return ("raised", type(exc).__name__)


@pytest.mark.parametrize("x", NUMBERS, ids=repr)
def test_fmt_num_equals_the_reference_for_every_value_class(x):
    for _ in range(2):  # the second call is answered from the memory
        assert _fmt(dosing.fmt_num, x) == _fmt(ref.fmt_num, x)


def test_fmt_num_memory_keeps_equal_values_of_other_types_apart():
    for seq in ([1.0, 1, True, Decimal("1"), Fraction(1)], [Fraction(3, 2), 1.5, Decimal("1.5")]):
        for x in seq + seq[::-1]:
            assert _fmt(dosing.fmt_num, x) == _fmt(ref.fmt_num, x)


@settings(max_examples=1000, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.decimals(places=4, allow_nan=False)
       | st.floats(min_value=-1e4, max_value=1e4).map(lambda v: round(v, 3)))
def test_fmt_num_equals_the_reference_on_generated_numbers(x):
    assert _fmt(dosing.fmt_num, x) == _fmt(ref.fmt_num, x)


measurements = st.builds(
    facts_module.Measurement,
    kind=st.sampled_from(["total-ige", "weight", "eosinophils", "lte4"]),
    value=st.floats(min_value=0, max_value=1e6) | st.integers(0, 5000),
    unit=st.sampled_from(["[IU]/mL", "kg", "/uL", "pg/mg{creat}", "odd unit", ""]) | st.none(),
    when=st.none() | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1))
    | st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)),
    source=st.builds(facts_module.SourceRef, st.just("Observation"), st.none() | st.text(max_size=5)),
    comparator=st.none() | st.sampled_from(["<", "<=", ">=", ">"]),
    original_value=st.none() | st.floats(min_value=0, max_value=1e6),
    original_unit=st.none() | st.sampled_from(["ng/mL", "kg", "[lb_av]", "[IU]/mL"]),
    derived_from=st.lists(st.builds(facts_module.SourceRef, st.just("Observation"), st.text(max_size=4)),
                          max_size=2).map(tuple),
)


@settings(max_examples=500, deadline=None)
@given(m=measurements, decimals=st.none() | st.integers(0, 2), note=st.sampled_from(["", "policy", "a (b)"]))
def test_measurement_rows_equal_the_reference(m, decimals, note):
    assert evidence.measurement("L", m, decimals=decimals, note=note) == \
        ref.measurement("L", m, decimals=decimals, note=note)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([evidence.age(40, "p"), evidence.age(40, "p"), evidence.age(41, "p"), "x", "",
                                 None, 0, 1, True]), max_size=8))
def test_unique_and_uniq_are_the_ordered_set_and_uniq_is_idempotent(items):
    assert phenotypes.unique(items) == tuple(dict.fromkeys(items))
    once = recommend._uniq(items)
    assert recommend._uniq(once) == once  # why _oma_asthma skips a second _uniq of base_ev


def test_unique_of_one_unhashable_item_fails_as_the_dict_did():
    with pytest.raises(TypeError):
        phenotypes.unique([[1]])


# ---------------------------------------------------------------------------------------------------
# second round: round_weight without Decimal for an already-rounded float, present() in one call,
# _add without the unique() call, _uniq over a list

WEIGHTS = [75.0, 60.1, 60.05, 60.15, -0.0, 0.0, 0.1, 0.05, 1e16, 1e22, 1.5e-7, 123456789012345.6, 9007199254740993.0,
           float("nan"), float("inf"), float("-inf"), 70, 0, True, Decimal("60.05"), "61.25", None]


@pytest.mark.parametrize("kg", WEIGHTS, ids=repr)
def test_round_weight_equals_the_decimal_form_for_every_value_class(kg):
    fast, slow = _fmt(dosing.round_weight, kg), _fmt(ref.round_weight, kg)
    assert repr(fast) == repr(slow)  # NaN == NaN by its text
    if fast[0] == "ok":
        assert type(fast[1]) is float and math.copysign(1, fast[1]) == math.copysign(1, slow[1])


@settings(max_examples=3000, deadline=None)
@given(st.floats(allow_nan=False) | st.floats(0, 400).map(lambda x: round(x, 1))
       | st.integers(0, 4000).map(lambda i: i / 10) | st.integers(0, 40000).map(lambda i: i / 100))
def test_round_weight_equals_the_decimal_form_on_generated_floats(kg):
    fast, slow = _fmt(dosing.round_weight, kg), _fmt(ref.round_weight, kg)
    assert fast == slow  # a value, or the same failure (1e27 is beyond Decimal's 28 digits)
    if fast[0] == "ok":
        assert math.copysign(1, fast[1]) == math.copysign(1, slow[1])


@pytest.mark.parametrize("slug", demo_slugs())
def test_present_and_findings_equal_the_reference_on_every_demo_patient(slug):
    facts, _, _, _ = demo_inputs(slug, "patient-view")
    p = phenotypes.build_profile(facts)
    for key in list(p.findings) + ["no-such-finding"]:
        assert p.present(key) is ref.profile_present(p, key)
    with _reference_forms():
        q = phenotypes.build_profile(facts)
    assert p.findings == q.findings and list(p.findings) == list(q.findings)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "", "c"]) | st.integers(0, 3), max_size=6))
def test_uniq_over_a_list_equals_the_generator_form(items):
    assert recommend._uniq(items) == ref.uniq(items)
    assert recommend._uniq(iter(items)) == ref.uniq(iter(items))
