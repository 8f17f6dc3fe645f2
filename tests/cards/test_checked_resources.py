"""The suggestion resources build_cards does not check twice, and the corrected draft's partial copy.

* `CheckedResources`: a resource that passed `validate_fhir_resource` while being built is not walked
  again by `validate_card`. Built with the set and with an always-empty one (every resource checked at
  card time, as before), the same decisions and drafts (varied and malformed: drafts, patient ids,
  intents, RxNorm lookups) give the same cards or the same error; every resource in the set passes
  validate_fhir_resource; and card mutants that keep the trusted resource object are judged by
  validate_card(card, checked) exactly as by the general checks.
* `_known_valid_create`: the remembered verdict on a create built from (option, codes, patient, intent)
  is validate_fhir_resource's, on the first call and the next.
* `corrected_draft` copies the first dosage only once: equal to the former full copy, sharing nothing
  with the draft.
"""
from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cards.builder as builder
from cards import build_cards, suggestions, validation
from cards.suggestions import UCUM_SYSTEM, _first_object, _has_coding, json_copy, option_of, route_coding
from cards.validation import CheckedResources, validate_fhir_resource
from clinical_core.decisions import TOPICS

from .factories import (BENRALIZUMAB, MEPOLIZUMAB, RESLIZUMAB, cyclosporine_draft, decision, omalizumab_draft,
                        rxnorm_all, rxnorm_verified, table_dose)
from .test_validation_fast import REPLACEMENTS, _parent, _paths


class _Unchecked(CheckedResources):
    """A set that never trusts anything: every resource is checked at card time (the former behaviour)."""

    __slots__ = ()

    def add(self, resource) -> None:
        pass


def _outcome(fn):
    try:
        return "ok", fn()
    except Exception as exc:  # noqa: BLE001 - the exact error is the outcome being compared
        return "error", (type(exc), str(exc))


def _strip_uuids(value):
    if isinstance(value, dict):
        return {k: "<uuid>" if k == "uuid" else _strip_uuids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_uuids(v) for v in value]
    return value


def _both_ways(monkeypatch, decisions, **kwargs):
    """(outcome with the checked set, outcome with every resource checked at card time, resources trusted)."""
    trusted: list = []
    real_validate = builder.validate_card

    def recording(card, checked=None):
        trusted.extend(r for r in (checked or {}).values() if r not in trusted)
        return real_validate(card, checked)

    monkeypatch.setattr(builder, "validate_card", recording)
    fast = _outcome(lambda: _strip_uuids(build_cards(decisions, **kwargs)))
    monkeypatch.setattr(builder, "CheckedResources", _Unchecked)
    full = _outcome(lambda: _strip_uuids(build_cards(decisions, **kwargs)))
    monkeypatch.setattr(builder, "CheckedResources", CheckedResources)
    monkeypatch.setattr(builder, "validate_card", real_validate)
    return fast, full, trusted


def _assert_trusted_pass(trusted):
    """The premise: only resources that pass validate_fhir_resource, and override-reason lists that pass
    their rules, are trusted."""
    for obj in trusted:
        if isinstance(obj, list):
            assert validation._surely_valid_reasons(obj)
        else:
            validate_fhir_resource(obj)


def _weird_rxnorm(agent):
    return {"omalizumab": ("302379", " "), "cyclosporine": ["3008", "cyclosporine"],
            "montelukast": ("", "montelukast"), "mepolizumab": ("1720597", "mepolizumab", "x"),
            "reslizumab": (9999991, "reslizumab")}.get(agent)


ALL_DECISIONS = [decision(t) for t in TOPICS] + [
    decision("omalizumab-dose", order_reference="MedicationRequest/draft-oma"),
    decision("anti-il5-recommended", alternatives=(MEPOLIZUMAB, BENRALIZUMAB, RESLIZUMAB)),
]
PATIENTS = ["p1", " ", "a b", "x" * 80, "é", "p1\n", "Patient/x"]


@pytest.mark.parametrize("hook", ["patient-view", "order-select", "order-sign"])
@pytest.mark.parametrize("rx", [rxnorm_verified, rxnorm_all, _weird_rxnorm], ids=lambda f: f.__name__)
@pytest.mark.parametrize("patient", PATIENTS)
def test_the_checked_set_changes_no_outcome(monkeypatch, hook, rx, patient):
    drafts = {"MedicationRequest/draft-oma": omalizumab_draft(), "MedicationRequest/draft-cyc": cyclosporine_draft()}
    for one in ALL_DECISIONS:
        fast, full, trusted = _both_ways(monkeypatch, [one], hook=hook, patient_id=patient, drafts=drafts,
                                         rxnorm_lookup=rx)
        assert fast == full
        _assert_trusted_pass(trusted)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12) | st.sampled_from(["", " ", "wk", "mg", "order", "Patient/p1", "\u00a0"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["reference", "text", "code", "system", "value", "repeat", "period", "coding", "x"])
        | st.text(max_size=6), children, max_size=3),
    max_leaves=10,
)
FIELDS = ["id", "status", "intent", "subject", "encounter", "requester", "medicationCodeableConcept",
          "medicationReference", "dosageInstruction", "note", "meta", "authoredOn"]
DOSAGE_FIELDS = ["timing", "route", "doseAndRate", "text", "site", "maxDosePerPeriod", "sequence"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4),
       dosage_changes=st.dictionaries(st.sampled_from(DOSAGE_FIELDS), json_values, max_size=3),
       hook=st.sampled_from(["patient-view", "order-select", "order-sign"]),
       patient=st.sampled_from(PATIENTS), rx=st.sampled_from([rxnorm_verified, rxnorm_all, _weird_rxnorm]))
def test_the_checked_set_changes_no_outcome_on_malformed_drafts(monkeypatch, changes, dosage_changes, hook,
                                                                patient, rx):
    oma = omalizumab_draft()
    oma["dosageInstruction"][0].update(dosage_changes)
    oma.update(changes)
    cyc = cyclosporine_draft()
    cyc.update(changes)
    decisions = [decision("omalizumab-dose-mismatch"), decision("cyclosporine-unsafe"),
                 decision("omalizumab-dose", order_reference="MedicationRequest/draft-oma"),
                 decision("anti-il5-recommended", order_reference="MedicationRequest/draft-cyc",
                          alternatives=(MEPOLIZUMAB, BENRALIZUMAB))]
    fast, full, trusted = _both_ways(monkeypatch, decisions, hook=hook, patient_id=patient, rxnorm_lookup=rx,
                                     drafts={"MedicationRequest/draft-oma": oma, "MedicationRequest/draft-cyc": cyc})
    assert fast == full
    _assert_trusted_pass(trusted)


def _built_with_checked() -> list[tuple[dict, CheckedResources]]:
    out: list = []
    real_validate = builder.validate_card

    def recording(card, checked=None):
        out.append((card, checked))
        return real_validate(card, checked)

    builder.validate_card = recording
    try:
        drafts = {"MedicationRequest/draft-oma": omalizumab_draft(), "MedicationRequest/draft-cyc": cyclosporine_draft()}
        for one in ALL_DECISIONS:
            for hook in ("patient-view", "order-sign"):
                build_cards([one], hook=hook, patient_id="p1", drafts=drafts, rxnorm_lookup=rxnorm_all)
    finally:
        builder.validate_card = real_validate
    return [(card, checked) for card, checked in out if checked]


TRUSTING = _built_with_checked()


def test_the_builder_trusts_update_and_create_resources():
    kinds = {a["type"] for card, checked in TRUSTING for s in card.get("suggestions", []) for a in s["actions"]
             if "resource" in a and checked.holds(a["resource"])}
    assert kinds == {"create", "update"}


@pytest.mark.parametrize("card,checked", TRUSTING, ids=lambda v: v["source"]["topic"]["code"] if "source" in v else "")
def test_mutants_around_a_trusted_resource_are_judged_as_by_the_general_checks(card, checked):
    """Every node outside the trusted resources is replaced or removed (the resources stay the same
    objects, as the builder hands them over): validate_card with the set answers as without it, and as
    the general checks do."""
    resources = list(checked.values())
    judged = 0
    for path in _paths(card):
        if not path or "resource" in path or (path[0] == "overrideReasons" and len(path) > 1):
            continue  # inside a trusted object (the builder hands them over unchanged)
        for new in REPLACEMENTS[:20] + [None]:
            mutant = copy.deepcopy(card, {id(r): r for r in resources})  # the resources are not copied
            _parent(mutant, path)[path[-1]] = copy.deepcopy(new)
            with_set = _outcome(lambda: validation.validate_card(mutant, checked))
            assert with_set == _outcome(lambda: validation.validate_card(mutant))
            assert with_set == _outcome(lambda: validation._validate_card_general(mutant))
            judged += 1
    assert judged


def test_the_builder_trusts_its_override_reasons():
    trusted = [card for card, checked in TRUSTING if "overrideReasons" in card and checked.holds(card["overrideReasons"])]
    assert trusted
    assert all(validation._surely_valid_reasons(card["overrideReasons"]) for card in trusted)


def test_override_reasons_are_trusted_only_as_copies_of_a_table_that_passes(monkeypatch):
    from cards import vocabulary
    checked = CheckedResources()
    reasons = validation.checked_override_reasons(checked)
    assert reasons == vocabulary.override_reason_codings() and checked.holds(reasons)
    assert validation._OVERRIDE_REASONS_PASS is validation._surely_valid_reasons(reasons) is True
    with pytest.raises(TypeError):  # the table cannot change after the verdict
        vocabulary._OVERRIDE_REASON_CODINGS[0]["code"] = " "
    reasons[0]["code"] = "changed"  # a copy is the card's own
    assert vocabulary.override_reason_codings()[0]["code"] == "clinical-judgement"
    monkeypatch.setattr(validation, "_OVERRIDE_REASONS_PASS", False)
    checked = CheckedResources()
    assert not checked.holds(validation.checked_override_reasons(checked)) and len(checked) == 0
    assert validation.checked_override_reasons(None) == vocabulary.override_reason_codings()


def test_a_checked_set_holds_objects_not_equal_values():
    checked = CheckedResources()
    resource = {"resourceType": "MedicationRequest"}
    checked.add(resource)
    assert checked.holds(resource)
    assert not checked.holds(dict(resource)) and not checked.holds(copy.deepcopy(resource))
    assert not checked.holds(None) and not CheckedResources().holds(None)  # dict.get's default is None


# ---------------------------------------------------------------------------------------------------
# _known_valid_create: the remembered verdict is validate_fhir_resource's

@settings(max_examples=200, deadline=None)
@given(option=st.sampled_from([MEPOLIZUMAB, BENRALIZUMAB, RESLIZUMAB, option_of(table_dose())]),
       codes=st.sampled_from([("302379", "omalizumab"), ("", "x"), ("1", " "), ("1", "a\nb"), ["1", "x"],
                              ("1", "x", "y"), (1, "x"), ("1720597", "mepolizumab")]),
       patient=st.sampled_from(PATIENTS + ["", "p2"]),
       intent=st.sampled_from(["proposal", "order", "bogus", "", " "]))
def test_the_remembered_create_verdict_is_validate_fhir_resources(option, codes, patient, intent):
    def rx(agent):
        return codes

    def build():
        checked = CheckedResources()
        resource = suggestions.new_medication_request(option, patient_id=patient, intent=intent, rxnorm=rx,
                                                      checked=checked)
        return resource, checked

    for _ in range(2):  # the first call checks, the second may remember
        built = _outcome(build)
        if built[0] == "error":  # codes that do not unpack: new_medication_request raises, as before
            assert built[1][0] is ValueError and len(codes) != 2
            return
        resource, checked = built[1]
        if resource is None:
            return
        valid = _outcome(lambda: validate_fhir_resource(resource))[0] == "ok"
        if checked.holds(resource):
            assert valid
        else:
            assert not valid or not (type(codes) is tuple and len(codes) == 2
                                     and all(type(c) is str for c in codes))


def test_an_equal_option_of_other_types_is_checked_on_its_own():
    """1 and True are equal, so a value key would mix up options that code differently: keyed by object."""
    import dataclasses
    good = MEPOLIZUMAB
    odd = dataclasses.replace(good, frequency=True)
    assert odd == good
    for option in (good, odd):
        checked = CheckedResources()
        resource = suggestions.new_medication_request(option, patient_id="p1", intent="proposal",
                                                      rxnorm=rxnorm_all, checked=checked)
        assert checked.holds(resource) == (_outcome(lambda: validate_fhir_resource(resource))[0] == "ok")


# ---------------------------------------------------------------------------------------------------
# corrected_draft: the former form (the whole draft copied, then its first dosage copied again)

def _corrected_draft_reference(draft, dose):
    option = option_of(dose)
    route = route_coding(option.route)
    resource = json_copy(dict(draft))
    first = json_copy(_first_object(resource.get("dosageInstruction")))
    first["text"] = option.display
    if not _has_coding(first.get("route"), route):
        first["route"] = {"coding": [route], "text": option.route}
    timing = first.get("timing") if isinstance(first.get("timing"), dict) else {}
    repeat = timing.get("repeat") if isinstance(timing.get("repeat"), dict) else {}
    same_interval = (repeat.get("frequency", 1) == 1 and repeat.get("period") == dose.interval_weeks
                     and repeat.get("periodUnit") == "wk")
    kept = {k: v for k, v in repeat.items()
            if k.startswith("bounds") or (same_interval and k in ("count", "countMax"))}
    kept.update({"frequency": 1, "period": dose.interval_weeks, "periodUnit": "wk"})
    timing = {k: v for k, v in timing.items() if k not in ("repeat", "code")}
    timing["repeat"] = kept
    first["timing"] = timing
    rate0 = {k: v for k, v in _first_object(first.get("doseAndRate")).items() if k == "type"}
    rate0["doseQuantity"] = {"value": dose.dose_mg, "unit": "mg", "system": UCUM_SYSTEM, "code": "mg"}
    first["doseAndRate"] = [rate0]
    first.pop("maxDosePerPeriod", None)
    first.pop("maxDosePerAdministration", None)
    resource["dosageInstruction"] = [first]
    return resource


def _containers(value):
    if isinstance(value, (dict, list)):
        yield value
        for child in (value.values() if isinstance(value, dict) else value):
            yield from _containers(child)


repeat_values = st.dictionaries(
    st.sampled_from(["frequency", "period", "periodUnit", "count", "countMax", "boundsPeriod", "boundsDuration",
                     "when", "x"]),
    json_values | st.sampled_from([1, 4, 2, "wk", "d"]), max_size=5)
dosages = st.fixed_dictionaries({}, optional={
    "text": json_values, "sequence": json_values, "site": json_values, "route": json_values,
    "timing": st.one_of(json_values, st.fixed_dictionaries({}, optional={
        "repeat": st.one_of(repeat_values, json_values), "code": json_values, "event": json_values})),
    "doseAndRate": st.one_of(json_values, st.lists(st.fixed_dictionaries({}, optional={
        "type": json_values, "doseQuantity": json_values, "rateRatio": json_values}), max_size=2)),
    "maxDosePerPeriod": json_values, "maxDosePerAdministration": json_values, "patientInstruction": json_values,
})


@settings(max_examples=400, deadline=None)
@given(dosage_list=st.one_of(st.lists(dosages, max_size=3), json_values),
       changes=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=3),
       dose=st.sampled_from([table_dose(), table_dose(150, 4), table_dose(375, 2)]),
       drop_dosage=st.booleans())
def test_corrected_draft_equals_the_full_copy_and_shares_nothing(dosage_list, changes, dose, drop_dosage):
    draft = omalizumab_draft()
    draft.update(changes)
    draft["dosageInstruction"] = dosage_list
    if drop_dosage:
        del draft["dosageInstruction"]
    before = copy.deepcopy(draft)
    got = suggestions.corrected_draft(draft, dose)
    expected = _corrected_draft_reference(draft, dose)
    assert got == expected
    assert list(got) == list(expected) and list(got["dosageInstruction"][0]) == list(expected["dosageInstruction"][0])
    assert draft == before  # the draft is not changed
    assert not {id(c) for c in _containers(draft)} & {id(c) for c in _containers(got)}


def test_a_demo_like_draft_is_corrected_as_before():
    draft = omalizumab_draft()
    draft["dosageInstruction"][0]["maxDosePerPeriod"] = {"numerator": {"value": 1}}
    draft["dosageInstruction"].append({"text": "second"})
    got = suggestions.corrected_draft(draft, table_dose())
    assert got == _corrected_draft_reference(draft, table_dose())
    assert got["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"] == {"start": "2026-12-01"}
    assert got["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"] is not \
        draft["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]
    assert len(got["dosageInstruction"]) == 1


# ---------------------------------------------------------------------------------------------------
# _strength_mg: the product strength read once per name

def _strength_reference(name):
    match = suggestions._STRENGTH.search(name)
    return float(match.group(1)) if match else None


class _Name(str):
    pass


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("0123456789. mgMG/x٣")), max_size=12)
                | st.sampled_from(["omalizumab 150 mg/mL prefilled syringe (Xolair)", "Xolair 75MG", "mg", ""])
                | st.text(max_size=8).map(_Name), min_size=1, max_size=5))
def test_strength_is_read_as_by_the_search(names):
    for name in names + names:  # the second time from the memo
        assert suggestions._strength_mg(name) == _strength_reference(name)
    assert all(type(k) is str and v == _strength_reference(k) for k, v in suggestions._STRENGTHS.items())


def test_strength_notes_are_as_before():
    draft = omalizumab_draft(medicationCodeableConcept={"text": "Xolair 150 mg/mL syringe", "coding": [
        {"display": "omalizumab 75 MG"}]})
    for _ in range(2):
        [note] = suggestions._strength_notes(draft, table_dose(225, 2))
        assert '"Xolair 150 mg/mL syringe"' in note and "225 mg" in note
        assert suggestions._strength_notes(draft, table_dose(300, 4)) == []
