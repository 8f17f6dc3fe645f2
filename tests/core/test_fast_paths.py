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
# assess / check_orders fast paths (de-duplication of evidence)
# against the reference forms kept in tests/core/reference_impl.py

import contextlib  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from clinical_core import evidence, phenotypes, recommend  # noqa: E402
from tests.core import reference_impl as ref  # noqa: E402
from tests.core.demo_inputs import HOOKS  # noqa: E402
from tests.core.test_properties import facts_strategy  # noqa: E402


@contextlib.contextmanager
def _reference_forms():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(phenotypes.Profile, "ev", ref.profile_ev)
        mp.setattr(recommend, "_uniq", ref.uniq)
        mp.setattr(recommend, "_uniq_ev", ref.unique)
        mp.setattr(evidence, "unique", ref.unique)
        mp.setattr(phenotypes, "_FIXED_FINDINGS", {})  # every finding built afresh
        mp.setattr(phenotypes, "_cutoff", phenotypes.months_before)  # not remembered
        mp.setattr(phenotypes.Profile, "condition_ev", ref.condition_ev)  # a row per citation
        mp.setattr(recommend, "age_at_first_omalizumab", ref.age_at_first_omalizumab)
        yield


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


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([evidence.age(40, "p"), evidence.age(40, "p"), evidence.age(41, "p"), "x", "",
                                 None, 0, 1, True]), max_size=8))
def test_uniq_is_the_ordered_set_and_idempotent(items):
    once = recommend._uniq(items)
    assert once == tuple(dict.fromkeys(i for i in items if i))
    assert recommend._uniq(once) == once  # why _oma_asthma skips a second _uniq of base_ev


# ---------------------------------------------------------------------------------------------------
# second round: _uniq over a list

@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "", "c"]) | st.integers(0, 3), max_size=6))
def test_uniq_over_a_list_equals_the_generator_form(items):
    assert recommend._uniq(items) == ref.uniq(items)
    assert recommend._uniq(iter(items)) == ref.uniq(iter(items))


# ---------------------------------------------------------------------------------------------------
# third round: evidence.unique (keyed on the field tuple) against dict.fromkeys over the rows

_ROWS = [evidence.age(40, "p"), evidence.age(40, "p"), evidence.age(41, "p"),
         evidence.Evidence("Condition", "Asthma", None, "Condition/a"),
         evidence.Evidence("Condition", "Asthma", None, "Condition/a", None),
         evidence.Evidence("Condition", "Asthma", b.TODAY, "Condition/a"),
         evidence.Evidence("Condition", "Asthma", None, "Condition/b", "605 ng/mL"),
         evidence.Evidence("Condition", "Asthma", None, None)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_ROWS), max_size=10), st.sampled_from([list, tuple, iter]))
def test_evidence_unique_equals_dict_fromkeys(rows, kind):
    want = ref.unique(rows)
    got = evidence.unique(kind(rows))
    assert type(got) is tuple and got == want and repr(got) == repr(want)
    # which of several equal rows is kept may differ (they are equal in every field, so indistinguishable)
    assert all(type(g) is type(w) for g, w in zip(got, want))


def _cell_or_error(cell, meta, table, ige, kg):
    try:
        return cell(meta, table, ige, kg)
    except (AssertionError, ValueError) as exc:  # outside the bands (the limits are checked before _cell), NaN
        return (type(exc).__name__, str(exc))


def test_dose_table_cells_from_the_per_table_entries_equal_the_per_call_computation():
    """dosing._cell (bisection, each cell's Lookup fields built once) against the per-call form, on every
    band edge, just beside it, band midpoints, outside values and NaN, for every table (verified or not)."""
    import math

    from clinical_core import dosing
    from clinical_core.knowledge import TABLE_IDS, dose_table, table_meta
    from tests.core import builders as b
    from tests.core import reference_impl as ref

    for table_id in TABLE_IDS:
        meta, table = table_meta(table_id), dose_table(table_id)
        ige_edges = table.ige_edges if table else meta.ige_edges or (30.0, 1500.0)
        w_edges = table.weight_edges if table else meta.weight_edges or (20.0, 150.0)

        def values(edges):
            out = [edges[0] - 1, edges[-1] + 1, math.nan, 0.0, -0.0]
            for lo, hi in zip(edges, edges[1:]):
                out += [lo, hi, lo + 1e-9, hi - 1e-9, (lo + hi) / 2, int(lo)]
            return out

        checked = 0
        for ige_value in values(ige_edges):
            ige = b.meas("total-ige", ige_value)
            for kg in values(w_edges):
                for _ in range(2):  # the second time from the cell entry the first call filled
                    got = _cell_or_error(dosing._cell, meta, table, ige, kg)
                    want = _cell_or_error(ref.dosing_cell, meta, table, ige, kg)
                    assert got == want and repr(got) == repr(want), (table_id, ige_value, kg)
                checked += 1
        assert checked > 25


def _value_or_error(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - the same error either way (inf: decimal.InvalidOperation)
        return (type(exc).__name__, str(exc))


def test_round_weight_shortcut_equals_the_decimal_form():
    from clinical_core.dosing import round_weight
    from tests.core import reference_impl as ref

    for kg in (75.0, 0.0, -0.0, -3.0, 1e14, 9.99e14, 1e15, 1e16, 2.5e17, 60.05, 60.04, 72.4, 80.0, 33.333, 1e-7,
               float("inf"), float("-inf"), 70, 0, True):
        got, want = _value_or_error(round_weight, kg), _value_or_error(ref.round_weight, kg)
        assert got == want and type(got) is type(want) and repr(got) == repr(want), kg
    nan = round_weight(float("nan"))
    assert nan != nan


def test_remembered_options_equal_the_options_computed_afresh():
    from clinical_core import options as o

    lists = (o.ANTI_IL5_REGIMENS, o.LTM_REGIMENS, ("tezepelumab-asthma-12plus",), ("omalizumab-csu",))
    for regimen_ids in lists:
        for age in (None, *range(-2, 100), 150, 12.0, True):
            for exclude in ((), ("mepolizumab",), ("montelukast", "zileuton"), ("",)):
                got = o.options(regimen_ids, age, exclude_agents=exclude)
                want = o._options.__wrapped__(regimen_ids, age, exclude)
                assert got == want and all(g is w for g, w in zip(got, want)), (regimen_ids, age, exclude)
    assert any(o.options(o.ANTI_IL5_REGIMENS, age) for age in range(6, 20))


def test_measurement_rows_equal_the_rows_of_the_plain_form():
    """evidence.measurement (fmt_num, round and SourceRef.reference written out) against the form before,
    on whole, fractional, negative, huge, non-finite values, comparators, converted units, derived counts."""
    import math

    from clinical_core import evidence as ev
    from clinical_core.facts import Measurement, SourceRef
    from tests.core import reference_impl as ref

    src = SourceRef("Observation", "o-1", "http://loinc.org|1", "x")
    no_id = SourceRef("Observation", None)
    derived = (SourceRef("Observation", "eos-pct"), SourceRef("Observation", "wbc"))
    checked = 0
    for value in (75.0, 75, 60.05, 60.04, 12.4, 0.35, 0.0, -0.0, -3.5, 1e16, 1e300, 1500.0, 72.449, math.inf, math.nan):
        for unit, orig_value, orig_unit in (("kg", None, None), ("kg", value, "kg"), ("[IU]/mL", value, "IU/mL"),
                                            ("/uL", 0.12, "10*3/uL"), ("odd-unit", 2.0, None), ("", None, "")):
            for comparator in (None, ">", "<="):
                for source, der in ((src, ()), (no_id, derived)):
                    m = Measurement("weight", value, unit, None, source, comparator, orig_value, orig_unit, None, der)
                    for kw in ({}, {"decimals": 1}, {"decimals": 0, "note": "policy"}, {"note": "x"}):
                        try:
                            want = ref.measurement("Body weight", m, **kw)
                        except (ValueError, OverflowError) as exc:
                            with pytest.raises(type(exc)):
                                ev.measurement("Body weight", m, **kw)
                            continue
                        got = ev.measurement("Body weight", m, **kw)
                        assert got == want and repr(got) == repr(want), (m, kw)
                        checked += 1
    assert checked > 1000


def _allergic_asthma_variants():
    from datetime import date

    from clinical_core.facts import IgeBaseline, SpecificIge
    import dataclasses as dc

    base = b.allergic_asthma(weight=75.0)
    on_tx = b.meas("total-ige", 420.0, rid="ige-on", original=(1000.0, "ng/mL"))
    yield base
    yield b.allergic_asthma(weight=None)
    yield b.allergic_asthma(age=None, weight=80.4, extra_conditions=("allergic-asthma", "allergic-asthma"))
    yield b.allergic_asthma(ige_value=1200.0, weight=151.0, extra_conditions=("eosinophilic-asthma",), eos=450)
    yield dc.replace(base, total_ige=IgeBaseline("baseline-before-omalizumab", base.total_ige.measurement,
                                                 excluded=(on_tx, on_tx, dc.replace(on_tx, value=380.0))))
    yield dc.replace(base, total_ige=IgeBaseline("only-on-treatment", on_tx, excluded=(on_tx,)))
    yield dc.replace(base, allergies=(b.allergy("environmental", "cat", ige_mediated=True),) * 2,
                     specific_ige=base.specific_ige * 2 + (SpecificIge("Age", "perennial-aeroallergen",
                                                                        b.meas("specific-ige", 9.0, rid="s2")),))
    yield dc.replace(base, conditions=base.conditions * 2 + (b.cond("allergic-asthma", rid="cond-asthma"),),
                     weight=b.meas("weight", 70.0, rid="wt-1", on=date(2019, 1, 1)))
    yield dc.replace(base, medications=(b.med("omalizumab", "anti-ige", start=date(2024, 2, 1)),),
                     weight_at_omalizumab_start=b.meas("weight", 58.0, rid="wt-0", on=date(2024, 1, 1)))


@pytest.mark.parametrize("region", ["US", "EU"])
def test_omalizumab_asthma_evidence_without_the_rehashing_equals_the_de_duplicated_rows(region):
    """_oma_asthma without CSU or polyps skips de-duplicating `base_ev + ige_ev`: on demo patients and on
    charts with repeated conditions, allergies, specific and on-treatment IgE, the rows it uses are exactly
    the de-duplicated ones."""
    from clinical_core import evidence as ev
    from clinical_core.recommend import _oma_asthma

    facts = [demo_inputs(slug, "order-sign")[0] for slug in demo_slugs()] + list(_allergic_asthma_variants())
    checked = 0
    for f in facts:
        p = build_profile(f)
        if not p.present("allergic-asthma") or p.present("csu-refractory") or p.present("crswnp"):
            continue
        plain = p.age_ev + p.ev("allergic-asthma") + p.weight_ev
        assert ev.unique(plain + p.ige_ev) == plain
        dec = _oma_asthma(p, region)
        dedup = ev.unique(plain + p.ige_ev)
        assert dec.evidence[:len(dedup)] == dedup  # the on-treatment rows (if any) follow
        checked += 1
    assert checked >= 8


def test_the_highest_eosinophil_row_is_added_exactly_when_it_differs_from_the_newest():
    """_eosinophilic settles `peak != latest` by identity or by the values first: the same rows as the plain
    compare, for the same result, equal copies, other values and fields, int against float, 0.0 and -0.0."""
    import dataclasses as dc

    from clinical_core.phenotypes import _eosinophilic

    newest = b.meas("eosinophils", 320.0, rid="eos-1")
    pairs = [(newest, newest), (newest, dc.replace(newest)), (newest, dc.replace(newest, value=410.0)),
             (newest, dc.replace(newest, status="amended")), (newest, dc.replace(newest, value=320)),
             (newest, dc.replace(newest, value=-0.0)), (dc.replace(newest, value=0.0), dc.replace(newest, value=-0.0)),
             (newest, None), (None, newest)]
    for latest, peak in pairs:
        f = b.allergic_asthma(weight=70.0)
        f = dc.replace(f, eosinophils_latest=latest, eosinophils_max_12m=peak)
        p = build_profile(f)
        _eosinophilic(p)
        labels = [e.label for e in p.findings["eosinophilic-asthma"].evidence]
        want_peak = peak is not None and peak != latest
        assert ("Blood eosinophils (highest, 12 months)" in labels) == want_peak, (latest, peak)
