"""Condition and AllergyIntolerance readers' rewritten helpers give the answers of their helper-based forms.

The reference forms are the code before the rewrite, kept here; each is compared on edge cases and
random input (hypothesis).
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_mappings import codesets as cs
from fhir_mappings import extract as ex
from fhir_mappings.fhirutil import all_text, as_str, coded, concept_text


def ref_condition_concepts(concept):
    found = []
    for system, code, c in coded(concept):
        rule = None
        if system == cs.SNOMED:
            rule = cs.snomed_index().get(code)
        elif system == cs.ICD10CM:
            rule = cs.icd10_lookup(code)
        if rule is None:
            continue
        for k in rule.concepts:
            if k not in {f[0] for f in found}:
                found.append((k, f"{system}|{code}", as_str(c.get("display")) or rule.display))
    if found:
        return found
    text = all_text(concept).lower()
    if not text:
        return []
    for pat in cs.condition_text_patterns():
        if any(w in text for w in pat["any"]) and not any(w in text for w in pat.get("none", ())):
            for key in (pat["concept"], *pat.get("also", ())):
                if key not in {f[0] for f in found}:
                    found.append((key, None, concept_text(concept)))
    return found


_SNOMED_CODES = sorted(cs.snomed_index())[:12]
_ICD_CODES = ["J45.50", "J45.5", "J45", "J45.909", " J45.50 ", "j45.50", "L50.1", "J33.9", "Z99", "", " "]
_CODES = st.one_of(st.sampled_from(_SNOMED_CODES + [f" {c} " for c in _SNOMED_CODES[:3]] + _ICD_CODES),
                   st.none(), st.integers(0, 3))
_SYSTEMS = [cs.SNOMED, cs.ICD10CM, "http://snomed.info/sct/", "HTTP://SNOMED.INFO/SCT", " http://snomed.info/sct",
            "urn:oid:2.16.840.1.113883.6.90", "http://hl7.org/fhir/sid/icd-10", cs.LOINC, "", None, 7, ["x"]]
_coding = st.one_of(
    st.fixed_dictionaries({}, optional={"system": st.sampled_from(_SYSTEMS), "code": _CODES,
                                        "display": st.one_of(st.none(), st.text(max_size=4), st.just(" "))}),
    st.none(), st.text(max_size=2))
_TEXTS = st.one_of(st.text(max_size=6), st.sampled_from(["Asthma", "allergic asthma", "chronic urticaria",
                                                           "nasal polyps", "no asthma", " "]))
_concept = st.one_of(
    st.fixed_dictionaries({}, optional={"coding": st.one_of(st.lists(_coding, max_size=4), _coding),
                                        "text": _TEXTS}),
    st.none(), st.text(max_size=3))


@settings(max_examples=3000, deadline=None)
@given(_concept)
def test_condition_concepts_random(concept):
    assert ex._condition_concepts(concept) == ref_condition_concepts(concept)


def test_condition_concepts_every_listed_code():
    for code in cs.snomed_index():
        c = {"coding": [{"system": cs.SNOMED, "code": code}, {"system": cs.ICD10CM, "code": "J45.50"}]}
        assert ex._condition_concepts(c) == ref_condition_concepts(c)


def test_every_alias_is_its_own_canonical_form():
    """known_system answers an exact alias by one lookup: sound only if canonical_system would read it so."""
    for alias in cs.SYSTEM_ALIASES:
        assert alias.strip().rstrip("/").lower() == alias
        assert cs.known_system(alias) == cs.canonical_system(alias)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.sampled_from(_SYSTEMS + list(cs.SYSTEM_ALIASES)), st.text(max_size=8), st.integers()))
def test_known_system_random(system):
    assert cs.known_system(system) == cs.canonical_system(system)


# -- the Observation loop's inline first tests (code, status, subject) --------------------------------------
from datetime import date  # noqa: E402

from fhir_mappings.fhirutil import reference_of  # noqa: E402
from fhir_mappings.observations import (  # noqa: E402
    IGNORED_STATUSES,
    PRELIMINARY_OK_KINDS,
    USED_STATUSES,
    match_loinc,
)

_PID = "p1"


def ref_loop_head(res):
    """The loop's first steps as the helpers take them (the form before the inline tests): the issues
    they add, and the status a result keeps (None when the result is not read)."""
    ctx = ex._Ctx(_PID, date(2026, 11, 20), [])
    loinc, coding, problem = match_loinc(res.get("code"))
    if problem:
        ctx.issue(reference_of(res), f"{problem}; not used")
        return ctx.issues, None
    if loinc is None:
        return ctx.issues, None
    kind = loinc.kind
    status = res.get("status")
    status = status.lower() if isinstance(status, str) and status.strip() else ""
    if status in IGNORED_STATUSES:
        return ctx.issues, None
    if not (status in USED_STATUSES or (status == "preliminary" and kind in PRELIMINARY_OK_KINDS)):
        ctx.issue(reference_of(res), f"{loinc.display}: status '{status or 'missing'}' is not a usable "
                  "result; not used", ex._kind_label(kind))
        return ctx.issues, None
    if not ex._about_patient(res, ctx):
        return ctx.issues, None
    return ctx.issues, (status, coding.get("display") if coding else None)


_OBS_CODES = ["29463-7", "19113-0", "85354-9", "0000-0", " 29463-7", 3, None]
_OBS_SYSTEMS = ["http://loinc.org", "http://loinc.org/", "HTTP://LOINC.ORG", cs.SNOMED, None, 1]
_obs_coding = st.one_of(st.fixed_dictionaries({"code": st.sampled_from(_OBS_CODES)},
                                              optional={"system": st.sampled_from(_OBS_SYSTEMS),
                                                        "display": st.sampled_from(["Body weight", "", "x"])}),
                        st.none(), st.just("x"))
_obs_code = st.one_of(st.fixed_dictionaries({"coding": st.one_of(st.lists(_obs_coding, min_size=0, max_size=3),
                                                                 _obs_coding)}),
                      st.none(), st.just([]))
_STATUS = st.sampled_from(["final", "amended", "corrected", "Final", " final", "preliminary", "registered",
                           "cancelled", "entered-in-error", "unknown", "", " ", None, 5, ["final"]])
_SUBJECT = st.one_of(st.sampled_from([{"reference": f"Patient/{_PID}"}, {"reference": "Patient/other"},
                                      {"reference": f"https://x/Patient/{_PID}"}, {"reference": None}, {}, None,
                                      "Patient/p1", {"reference": 5}]), st.none())


_QUANTITY = st.one_of(
    st.just({"value": 70, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}),
    st.fixed_dictionaries({"value": st.sampled_from([70, 70.5, True, "70", float("inf"), 10**400, None])}, optional={
        "comparator": st.sampled_from([None, "<", ">=", "~", 3]), "unit": st.sampled_from(["kg", "", " kg", 5, None]),
        "system": st.sampled_from(["http://unitsofmeasure.org", "", None, 2]),
        "code": st.sampled_from(["kg", "k g", " kg", "", None, 4])}))
_META = st.sampled_from([None, {"lastUpdated": "2026-01-01T00:00:00Z"}, {"lastUpdated": "x"}, "x"])


@settings(max_examples=3000, deadline=None)
@given(code=_obs_code, status=_STATUS, subject=_SUBJECT, quantity=_QUANTITY, meta=_META)
def test_observation_loop_head_equals_the_helpers(code, status, subject, quantity, meta):
    res = {"resourceType": "Observation", "id": "o1", "code": code, "status": status, "subject": subject,
           "effectiveDateTime": "2026-01-02T10:00:00Z", "valueQuantity": quantity, "meta": meta}
    res = {k: v for k, v in res.items() if v is not None or k == "status"}
    ctx = ex._Ctx(_PID, date(2026, 11, 20), [])
    out = ex._observations([res], [], ctx)
    from fhir_mappings.used_elements import resource_valid
    for ms in out["measurements"].values():  # ok()'s verdict (the read test or the whole one) is the whole test's
        for m in ms:
            assert out["ok"](m) == resource_valid("Observation")(res)
    ctx.issues[:] = [i for i in ctx.issues if "not valid FHIR" not in i.problem]
    read = [(m.status, m.source.display) for ms in out["measurements"].values() for m in ms]
    read += [(b.source.display,) for b in out["bp_panels"]]
    issues, expected = ref_loop_head(res)
    head_issues = [i for i in ctx.issues if i.problem.startswith(("codings name", "Body weight: status",
                                                                   "belongs to"))
                   or ": status '" in i.problem]
    assert head_issues == issues  # (a total IgE in kg, a panel without components: the value's own issues)
    if expected is None:
        assert read == []
    elif read and len(read[0]) == 2:
        assert read[0][0] == expected[0]
        assert read[0][1] == (expected[1] if isinstance(expected[1], str) and expected[1].strip()
                              else match_loinc(code)[0].display)


@settings(max_examples=1000, deadline=None)
@given(code=_obs_code)
def test_the_label_of_an_invalid_result_is_its_kinds(code):
    loinc = match_loinc(code)[0]
    if loinc is not None:
        assert ex._label_of({"code": code}) == ex._kind_label(loinc.kind)


# -- AllergyIntolerance and Condition readers ---------------------------------------------------------------
from clinical_core.facts import AllergyFact, SourceRef  # noqa: E402
from fhir_mappings.fhirutil import as_dict, as_list, parse_date, status_code  # noqa: E402


def ref_allergies(items, ctx):
    """_allergies before the text-only shortcuts (the code as it was)."""
    out = []
    groups = cs.allergy_group_patterns()
    resp = cs.respiratory_manifestation_pattern()
    subst_idx = cs.snomed_substance_index()
    for res in items:
        ver = status_code(res.get("verificationStatus"))
        clin = status_code(res.get("clinicalStatus"))
        if ver in ex.EXCLUDED_VERIFICATION or clin in ("inactive", "resolved"):
            continue
        code = res.get("code")
        codes = list(coded(code))
        code_text = concept_text(code)
        texts = [all_text(code)]
        for r in as_list(res.get("reaction")):
            texts.append(all_text(as_dict(r).get("substance")))
        text = " | ".join(t for t in texts if t).lower()
        coded_substance = next((subst_idx[c] for system, c, _ in codes if system == cs.SNOMED and c in subst_idx),
                               None)
        category = None
        for group in ("aspirin-nsaid", "food", "environmental"):
            if groups[group].search(text):
                category = group
                break
        if category is None and coded_substance:
            category = "food"
        if category is None:
            fhir_cat = {str(c).lower() for c in as_list(res.get("category"))}
            category = ("food" if "food" in fhir_cat
                        else "medication" if "medication" in fhir_cat or "biologic" in fhir_cat else "other")
        if not ex._about_patient(res, ctx) or not ex._valid(res, ctx):
            continue
        manifest = " | ".join(all_text(m) for r in as_list(res.get("reaction"))
                              for m in as_list(as_dict(r).get("manifestation"))).lower()
        typ = as_str(res.get("type"))
        ige = True if typ == "allergy" else False if typ == "intolerance" else None
        substance = code_text or coded_substance or "unspecified substance"
        code_str = next((f"{system}|{c}" for system, c, _ in codes if system), None)
        out.append(AllergyFact(
            category=category, substance=substance,
            source=SourceRef("AllergyIntolerance", as_str(res.get("id")), code_str, code_text),
            respiratory_reaction=resp.search(manifest) is not None,
            ige_mediated=ige,
            recorded=parse_date(res.get("recordedDate")) or parse_date(res.get("onsetDateTime")),
        ))
    return out


_SUBST = sorted(cs.snomed_substance_index())[:4] + ["91936005", "x"]
_aconcept = st.one_of(
    st.fixed_dictionaries({}, optional={
        "coding": st.one_of(st.lists(st.one_of(st.fixed_dictionaries({}, optional={
            "system": st.sampled_from([cs.SNOMED, "http://snomed.info/sct/", None, "urn:x", 3]),
            "code": st.sampled_from(_SUBST + [" ", None, 4]),
            "display": st.sampled_from(["Peanut", "aspirin", "", None])}), st.none(), st.just(1)), max_size=3),
            st.none(), st.just("x")),
        "text": st.sampled_from(["House dust mite", "peanut", "Aspirin", "penicillin", "", " ", None, 5])}),
    st.none(), st.just("text"), st.just([]))
_reaction = st.one_of(st.fixed_dictionaries({}, optional={
    "substance": _aconcept,
    "manifestation": st.one_of(st.lists(st.one_of(_aconcept, st.none()), max_size=3), st.none(), st.just({}))}),
    st.none(), st.just(3))
_allergy = st.fixed_dictionaries({"resourceType": st.just("AllergyIntolerance"), "id": st.sampled_from(["a1", "", None])},
                                 optional={
    "code": _aconcept, "reaction": st.one_of(st.lists(_reaction, max_size=3), st.none(), st.just({})),
    "category": st.one_of(st.lists(st.sampled_from(["food", "medication", "environment", "biologic", 3]),
                                   max_size=2), st.none()),
    "type": st.sampled_from(["allergy", "intolerance", "", None]),
    "patient": st.sampled_from([{"reference": f"Patient/{_PID}"}, {"reference": "Patient/other"}, None]),
    "clinicalStatus": st.sampled_from([{"coding": [{"code": "active"}]}, {"coding": [{"code": "resolved"}]}, None]),
    "recordedDate": st.sampled_from(["2019-06-04", "2019", "x", None]),
    "onsetDateTime": st.sampled_from(["2018-01-01", None])})


@settings(max_examples=2000, deadline=None)
@given(st.lists(_allergy, max_size=3))
def test_allergies_equal_the_previous_reading(items):
    c1, c2 = ex._Ctx(_PID, date(2026, 11, 20), []), ex._Ctx(_PID, date(2026, 11, 20), [])
    assert ex._allergies(items, c1) == ref_allergies(items, c2)
    assert c1.issues == c2.issues


_periods = st.one_of(st.none(), st.just("x"), st.fixed_dictionaries({}, optional={
    "start": st.sampled_from(["2020-01-01", "2030-01-01", "x", None]),
    "end": st.sampled_from(["2021-01-01", "2030-01-01", None])}))


@settings(max_examples=2000, deadline=None)
@given(ab_dt=st.sampled_from(["2020-01-01", "2030-05-05", "2020", "x", None, 5]), ab_p=_periods,
       ab_b=st.sampled_from([True, False, None]), ab_s=st.sampled_from(["resolved", "", None]),
       clin=st.sampled_from([{"coding": [{"code": "active"}]}, None]))
def test_condition_abatement_shortcut_equals_the_lookups(ab_dt, ab_p, ab_b, ab_s, clin):
    res = {"resourceType": "Condition", "id": "c1", "subject": {"reference": f"Patient/{_PID}"},
           "code": {"coding": [{"system": cs.SNOMED, "code": sorted(cs.snomed_index())[0]}]}}
    for k, v in (("abatementDateTime", ab_dt), ("abatementPeriod", ab_p), ("abatementBoolean", ab_b),
                 ("abatementString", ab_s), ("clinicalStatus", clin)):
        if v is not None:
            res[k] = v
    ctx = ex._Ctx(_PID, date(2026, 11, 20), [])
    facts = ex._conditions([res], ctx)
    abatement = (parse_date(res.get("abatementDateTime")) or parse_date(as_dict(res.get("abatementPeriod")).get("end"))
                 or parse_date(as_dict(res.get("abatementPeriod")).get("start")))
    valid = not ctx.issues
    gone = (abatement is not None and abatement <= date(2026, 11, 20)) or (
        status_code(res.get("clinicalStatus")) is None and (ab_b is True or bool(ab_s)))
    assert bool(facts) == (valid and not gone)


# -- medications: agents_for -------------------------------------------------------------------------------
from fhir_mappings.medications import agents_for  # noqa: E402


def ref_agents_for(concept):
    if not concept:
        return []
    idx = cs.rxcui_index()
    out = []
    for system, code, _ in coded(concept):
        if system == cs.RXNORM and code in idx and idx[code] not in {a for a, _ in out}:
            out.append((idx[code], f"{system}|{code}"))
    text = all_text(concept)
    for agent in cs.agents_in_text(text):
        if agent not in {a for a, _ in out}:
            out.append((agent, None))
    low = text.lower()
    return [(a, c) for a, c in out if not any(x in low for x in cs.agents()[a].exclude_names)]


_RXCUIS = sorted(cs.rxcui_index())[:6] + ["0", " "]
_mconcept = st.one_of(st.fixed_dictionaries({}, optional={
    "coding": st.one_of(st.lists(st.one_of(st.fixed_dictionaries({}, optional={
        "system": st.sampled_from([cs.RXNORM, "urn:oid:2.16.840.1.113883.6.88", None, 1]),
        "code": st.sampled_from(_RXCUIS + [None]), "display": st.sampled_from(["Xolair", "", None])}), st.none()),
        max_size=3), st.none(), st.just("x")),
    "text": st.sampled_from(["omalizumab 150 mg", "albuterol inhaler", "cyclosporine ophthalmic emulsion",
                             "Advair Diskus", "", None, 3])}), st.none(), st.just("x"), st.just({}))


@settings(max_examples=2000, deadline=None)
@given(_mconcept)
def test_agents_for_equals_the_previous_form(concept):
    assert agents_for(concept) == ref_agents_for(concept)


# -- blood pressure panels ----------------------------------------------------------------------------------
from clinical_core.facts import BloodPressure  # noqa: E402
from fhir_mappings.observations import RawObservation, read_quantity  # noqa: E402


def ref_bp_panel(raw, ctx):
    """_bp_panel as it was: every panel read through a RawObservation."""
    systolic = diastolic = None
    rid = as_str(raw.resource.get("id"))
    for comp in as_list(raw.resource.get("component")):
        comp = as_dict(comp)
        loinc, _, problem = match_loinc(comp.get("code"))
        if loinc is None or problem:
            continue
        kind = loinc.kind
        if (kind == "systolic" and systolic is None) or (kind == "diastolic" and diastolic is None):
            m = ex._quantity_fast(comp, kind, loinc, raw.coding, rid, raw.when, raw.status)
            if m is None:
                m = read_quantity(comp, kind, raw, ctx.issues, loinc=loinc)
            if kind == "systolic":
                systolic = m
            else:
                diastolic = m
    if systolic is None and diastolic is None:
        if not as_list(raw.resource.get("component")):
            ctx.issue(raw.reference, "blood pressure panel without systolic/diastolic components", "blood-pressure")
        return None
    return BloodPressure(systolic, diastolic, raw.when, raw.source())


_component = st.one_of(st.fixed_dictionaries({"code": st.sampled_from([
    {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
    {"coding": [{"system": "http://loinc.org", "code": "8462-4", "display": "Diastolic"}]},
    {"coding": [{"system": "http://loinc.org", "code": "0000-0"}]}, None])}, optional={
    "valueQuantity": st.one_of(st.fixed_dictionaries({"value": st.sampled_from([120, 80.5, "x", 10**400, None])},
                                                     optional={"unit": st.sampled_from(["mmHg", "", None, "kg"]),
                                                               "code": st.sampled_from(["mm[Hg]", None])}),
                               st.none(), st.just(3)),
    "dataAbsentReason": st.sampled_from([{"text": "not done"}, None])}), st.none(), st.just(1))


@settings(max_examples=2000, deadline=None)
@given(components=st.one_of(st.lists(_component, max_size=4), st.none(), st.just({})),
       rid=st.sampled_from(["bp1", " ", "", None, 7]),
       display=st.sampled_from(["BP panel", "", " ", None, 5]),
       when=st.sampled_from([None, "2026-01-02T10:00:00Z"]), status=st.sampled_from(["final", "preliminary"]))
def test_bp_panel_equals_the_raw_observation_reading(components, rid, display, when, status):
    from fhir_mappings.fhirutil import parse_datetime
    res = {"resourceType": "Observation", "id": rid, "component": components}
    loinc = cs.loinc_index()["85354-9"]
    coding = {"system": cs.LOINC, "code": "85354-9", "display": display}
    t = parse_datetime(when)[0]
    rid_read = rid if isinstance(rid, str) and rid.strip() else None  # the loop's reading of the id
    c1, c2 = ex._Ctx(_PID, date(2026, 11, 20), []), ex._Ctx(_PID, date(2026, 11, 20), [])
    got = ex._bp_panel(res, loinc, coding, rid_read, t, status, None, (), c1)
    want = ref_bp_panel(RawObservation(res, loinc, coding, t, status, None, ()), c2)
    assert got == want
    assert c1.issues == c2.issues
