"""Rewritten hot helpers give exactly the answers of their straightforward versions (kept here as the reference).

match_loinc (one loop instead of coded()), effective_time (lazy) and the patient check's fast path:
each compared with the original code on edge cases and random input.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_mappings.codesets import LOINC, loinc_index
from fhir_mappings.fhirutil import as_dict, coded, parse_datetime
from fhir_mappings.observations import effective_time, match_loinc

# -- reference implementations (the code before the rewrite) -----------------------------------------
def ref_match_loinc(concept):
    idx = loinc_index()
    hits = [(idx[code], c) for system, code, c in coded(concept) if system == LOINC and code in idx]
    if not hits:
        return None, None, None
    kinds = {h[0].concept for h in hits}
    if len(kinds) > 1:
        return None, None, f"codings name different tests ({', '.join(sorted(kinds))})"
    return hits[0][0], hits[0][1], None


def ref_effective_time(r):
    for value in (r.get("effectiveDateTime"), as_dict(r.get("effectivePeriod")).get("start"),
                  as_dict(r.get("effectivePeriod")).get("end"), r.get("effectiveInstant"), r.get("issued")):
        dt, precision = parse_datetime(value)
        if dt is not None:
            return dt, precision
    return None, ""


def ref_parse_datetime(value):
    if not isinstance(value, str) or not value.strip():
        return None, ""
    s = value.strip()
    m = re.match(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$", s)
    try:
        if m:
            y, mo, d = m.group(1), m.group(2), m.group(3)
            dt = datetime(int(y), int(mo or 1), int(d or 1))
            return dt, "day" if d else ("month" if mo else "year")
        s2 = s.replace("Z", "+00:00")
        dt = datetime.fromisoformat(s2)
        if dt.tzinfo is not None:
            dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
        return dt, "time"
    except (ValueError, OverflowError):
        return None, ""


def _same(a, b):
    """Equal values, and equal reprs (a naive vs aware datetime, fold, microseconds all show)."""
    return a == b and repr(a) == repr(b)


# -- dates ------------------------------------------------------------------------------------------------
DATES = ["", " ", "2026", "2026-02", "2026-02-03", " 2026-02-03 ", "2026-02-30", "2026-13", "2026-00", "0000",
         "0001-01-01", "9999-12-31", "2026-2-3", "20260203", "2026-02-03T", "2026-02-03T10:00",
         "2026-02-03T10:00:00", "2026-02-03T10:00:00Z", "2026-02-03T10:00:00z", "2026-02-03T10:00:00.5Z",
         "2026-02-03T10:00:00.123456+05:30", "2026-02-03T23:30:00-05:00", "2026-02-03T10:00:00+14:00",
         "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "0001-01-01T00:00:00Z",
         "2026-02-03T10:00:00+05:30:15", "2026-02-03T10:00:00+0530", "2026-02-03T10:00:00+05",
         "2026-02-03 10:00:00", "2026-02-03T24:00:00", "2026-W05", "2026-034", "٢٠٢٦", "٢٠٢٦-٠٢-٠٣",
         "2026-02-03\n", "2026\n", "ZZZZ", "2026-02-03TZ", "2026-02-03T10:00:00ZZ", "2026-02-03T10:00:00+25:00",
         "1984-05-12", "2026-09-15T08:20:00-05:00", None, 20260203, 1.5, True, [], {},
         # the fast shape's edges: offsets at and beyond the bounds, a zone inside the time, Z elsewhere
         "2026-09-15T08:20:00+23:59", "2026-09-15T08:20:00-23:59", "2026-09-15T08:20:00+24:00",
         "2026-09-15T08:20:00-00:00", "2026-09-15T08:20:00+05:60", "2026-09-15T08+01:00-05:00",
         "2026-09-15T08:20Z00+01:00", "2026-W38-2T08:20:00+01:00", "2026-09-15 08:20:00+01:00",
         "2026-09-15T08:20:00.5+01:0", "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00",
         "2026-02-30T08:20:00+01:00", "2026-09-15T24:00:00+01:00", "2026-09-15T08:20:60Z",
         "2026-09-15T08:20:00z", "٢٠٢٦-٠٩-١٥T08:20:00+01:00", "2026-09-15T08:2Z:00Z"]


# -- LOINC matching and effective time -----------------------------------------------------------------------
_CODES = ["19113-0", " 19113-0 ", "26449-9", "29463-7", "85354-9", "8480-6", "0000-0", "", " ", None, 5]
_SYSTEMS = ["http://loinc.org", "http://loinc.org/", "HTTPS://LOINC.ORG", "urn:oid:2.16.840.1.113883.6.1",
            "http://snomed.info/sct", None, 3, ""]
coding = st.one_of(
    st.fixed_dictionaries({}, optional={"system": st.sampled_from(_SYSTEMS), "code": st.sampled_from(_CODES),
                                        "display": st.text(max_size=5)}),
    st.none(), st.integers(), st.text(max_size=3))
concept = st.one_of(
    st.fixed_dictionaries({}, optional={"coding": st.one_of(st.lists(coding, max_size=4), coding),
                                        "text": st.text(max_size=5)}),
    st.none(), st.text(max_size=3), st.lists(coding, max_size=2))


@settings(max_examples=2000, deadline=None)
@given(concept)
def test_match_loinc_random(value):
    assert match_loinc(value) == ref_match_loinc(value)


date_value = st.one_of(st.sampled_from(DATES), st.text(max_size=5))
resource = st.fixed_dictionaries({}, optional={
    "effectiveDateTime": date_value, "effectiveInstant": date_value, "issued": date_value,
    "effectivePeriod": st.one_of(st.fixed_dictionaries({}, optional={"start": date_value, "end": date_value}),
                                 date_value)})


@settings(max_examples=2000, deadline=None)
@given(resource)
def test_effective_time_random(value):
    assert _same(effective_time(value), ref_effective_time(value))


# -- the patient check -----------------------------------------------------------------------------------------
def ref_about_patient(res, ctx):
    from fhir_mappings.fhirutil import reference_of, subject_id

    rtype, rid = subject_id(res)
    if rtype == "Patient" and rid and rid != ctx.patient_id:
        ctx.issue(reference_of(res), f"belongs to Patient/{rid}, not Patient/{ctx.patient_id}; ignored")
        return False
    return True


_PIDS = ["p1", "a/b", "", " ", "Patient", "p1/_history/2", "x y"]
_SUBJECT_REFS = ["Patient/p1", "Patient/a/b", "Patient/", "Patient/ ", "Patient/Patient", "Patient/p1/_history/2",
                 "Patient/x y", "Patient/p2", "Group/p1", "https://x/Patient/p1", "", None, 3]


@settings(max_examples=1500, deadline=None)
@given(pid=st.sampled_from(_PIDS),
       res=st.fixed_dictionaries({"id": st.just("r1")}, optional={
           "subject": st.one_of(st.fixed_dictionaries({}, optional={"reference": st.sampled_from(_SUBJECT_REFS)}),
                                st.sampled_from(_SUBJECT_REFS)),
           "patient": st.fixed_dictionaries({}, optional={"reference": st.sampled_from(_SUBJECT_REFS)})}))
def test_about_patient_fast_path(pid, res):
    from datetime import date

    from fhir_mappings.extract import _about_patient, _Ctx

    fast, ref = _Ctx(pid, date(2026, 1, 1), []), _Ctx(pid, date(2026, 1, 1), [])
    assert _about_patient(res, fast) == ref_about_patient(res, ref)
    assert fast.issues == ref.issues


# -- parse_datetime -------------------------------------------------------------------------------------------
def test_parse_datetime_edge_cases():
    for value in DATES:
        got, want = parse_datetime(value), ref_parse_datetime(value)
        assert _same(got[0], want[0]) and got[1] == want[1], value


_offsets = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59))
iso_text = st.one_of(
    st.builds(lambda dt, off, spec: dt.replace(tzinfo=timezone(off)).isoformat(timespec=spec),
              st.datetimes(), _offsets, st.sampled_from(["seconds", "milliseconds", "microseconds", "minutes"])),
    st.builds(lambda dt: dt.isoformat(), st.datetimes()),
    st.builds(lambda dt: dt.isoformat() + "Z", st.datetimes()),
    st.text(alphabet="0123456789-:TZ+. ", max_size=30),
    st.text(alphabet="0123456789-:TZ+", min_size=20, max_size=20),
    st.text(alphabet="0123456789-:TZ+", min_size=25, max_size=25),
    st.builds(lambda head, tail: head + tail, st.sampled_from(["2026-09-15T08:20:00", "0001-01-01T00:00:00",
              "9999-12-31T23:59:59", "2026-02-29T10:00:00"]), st.text(alphabet="0123456789-:+Z", max_size=7)))


@settings(max_examples=3000, deadline=None)
@given(iso_text)
def test_parse_datetime_random(value):
    got, want = parse_datetime(value), ref_parse_datetime(value)
    assert _same(got[0], want[0]) and got[1] == want[1]
    if value.strip() and got[0] is not None and got[1] == "time":
        assert got[0].tzinfo is None  # naive UTC, comparable with every other fact's datetime


# -- unit conversion rounding ---------------------------------------------------------------------------------
@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-10**12, 10**12),
                 st.integers(-10**11, 10**11).map(float), st.sampled_from([0.0, -0.0, 1e10, -1e10, 9999999999.0,
                                                                           1e10 - 1, 12345678901.0, 0.5, 300.00000000000006])),
       st.sampled_from([1.0, 1000.0, 0.001, 2.54, 0.45359237, 1, 10]))
def test_ten_significant_digits_is_the_text_round_trip(value, factor):
    from fhir_mappings.units import ten_significant_digits

    x = value * factor
    assert repr(ten_significant_digits(x)) == repr(float(f"{x:.10g}"))


# -- parse_date and status_code: their usual-shape shortcuts against the general readings -------------
def _parse_date_general(value):
    dt, _ = parse_datetime(value)
    return dt.date() if dt else None


from fhir_mappings.fhirutil import _status_code_general  # noqa: E402 - the general reading the fast path skips


_DATE_SAMPLES = ["2009-03-01", "2009-02-30", "2009-13-01", "0000-01-01", "0001-01-01", "9999-12-31", "2009-W01-1",
                 "２００９-03-01", "2009-03-0１", " 2009-03-0", "2009-03-1 ", "+009-03-01", "2009-3-011", "2009/03/01",
                 "2009-03-01T10:00:00Z", "2009", "2009-03", None, 5, "", "   "]


@settings(max_examples=800, deadline=None)
@given(value=st.one_of(st.sampled_from(_DATE_SAMPLES), st.text(alphabet="0123456789-W: T+２", min_size=8, max_size=12),
                       st.dates().map(str)))
def test_parse_date_equals_the_general_reading(value):
    from fhir_mappings.fhirutil import parse_date

    assert parse_date(value) == _parse_date_general(value)


_code = st.one_of(st.none(), st.integers(), st.sampled_from(["active", " Active ", "", "  ", "REFUTED", "x"]))
_coding = st.one_of(st.none(), st.integers(), st.lists(st.none(), max_size=1),
                    st.fixed_dictionaries({}, optional={"code": _code, "system": st.just("s")}))


@settings(max_examples=800, deadline=None)
@given(concept=st.one_of(st.none(), st.text(max_size=3),
                         st.fixed_dictionaries({}, optional={"coding": st.one_of(st.lists(_coding, max_size=3),
                                                                                   _coding),
                                                             "text": _code})))
def test_status_code_equals_the_general_reading(concept):
    from fhir_mappings.fhirutil import status_code

    assert status_code(concept) == _status_code_general(concept)


# -- coded and all_text: one loop each, against the helper-based versions they replaced ------------------
from fhir_mappings.fhirutil import as_list, as_str, codings  # noqa: E402
from fhir_mappings.codesets import canonical_system  # noqa: E402


def ref_coded(concept):
    out = []
    for c in codings(concept):
        code = as_str(c.get("code"))
        if code:
            out.append((canonical_system(c.get("system")), code.strip(), c))
    return out


def ref_all_text(concept):
    d = as_dict(concept)
    parts = [as_str(d.get("text")) or ""]
    parts += [as_str(c.get("display")) or "" for c in codings(d)]
    return " | ".join(p for p in parts if p)


class _Str(str):
    pass


_text = st.one_of(st.none(), st.integers(), st.sampled_from(["", " ", " x ", "Asthma", "\t", _Str("sub"), "a | b"]),
                  st.text(max_size=4))
_any_coding = st.one_of(st.none(), st.integers(), st.text(max_size=2), st.lists(st.none(), max_size=1),
                        st.fixed_dictionaries({}, optional={"code": _text, "display": _text,
                                                            "system": st.one_of(_text, st.sampled_from(
                                                                [LOINC, "http://snomed.info/sct/", " HTTPS://loinc.org "]))}))
_any_concept = st.one_of(st.none(), st.text(max_size=3), st.lists(_any_coding, max_size=2),
                         st.fixed_dictionaries({}, optional={"coding": st.one_of(st.lists(_any_coding, max_size=4),
                                                                                   _any_coding),
                                                             "text": _text}))


@settings(max_examples=1000, deadline=None)
@given(concept=_any_concept)
def test_coded_and_all_text_equal_the_helper_based_versions(concept):
    from fhir_mappings.fhirutil import all_text

    got = list(coded(concept))
    assert got == ref_coded(concept)
    assert [type(code) for _, code, _ in got] == [type(code) for _, code, _ in ref_coded(concept)]
    assert all(c is r for (_, _, c), (_, _, r) in zip(got, ref_coded(concept)))
    assert all_text(concept) == ref_all_text(concept)
    assert type(all_text(concept)) is type(ref_all_text(concept))


def test_coded_and_all_text_on_usual_concepts():
    from fhir_mappings.fhirutil import all_text

    for concept in ({"coding": [{"system": "http://snomed.info/sct", "code": " 389145006 ", "display": "Asthma"},
                                {"code": "J45.50", "display": "  "}], "text": "Severe asthma"},
                    {"text": "fluticasone (Advair)"}, {"coding": [{"display": "no code"}, "x", None]}, {}, None, []):
        assert list(coded(concept)) == ref_coded(concept)
        assert all_text(concept) == ref_all_text(concept)
    assert all_text({"text": "Severe asthma", "coding": [{"display": "Asthma"}]}) == "Severe asthma | Asthma"
    assert list(coded({"coding": [{"system": "http://snomed.info/sct", "code": " 1 "}]})) == [
        ("http://snomed.info/sct", "1", {"system": "http://snomed.info/sct", "code": " 1 "})]


def ref_bundle_entries(obj):
    if not isinstance(obj, dict):
        return []
    if obj.get("resourceType") == "Bundle" or ("entry" in obj and "resourceType" not in obj):
        entries = obj.get("entry")
        return [(as_str(e.get("fullUrl")), e["resource"]) for e in as_list(entries)
                if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    return [(None, obj)]


@settings(max_examples=500, deadline=None)
@given(urls=st.lists(st.one_of(_text, st.sampled_from(["urn:uuid:1", " u ", "Medication/m1"])), max_size=4),
       shape=st.sampled_from(["Bundle", "bare-entry", "resource"]))
def test_bundle_entries_full_urls_equal_as_str(urls, shape):
    from fhir_mappings.fhirutil import bundle_entries

    entries = [{"resource": {"resourceType": "Medication", "id": str(i)}, **({} if u is None else {"fullUrl": u})}
               for i, u in enumerate(urls)] + [{"fullUrl": "x"}, "junk"]
    obj = ({"resourceType": "Bundle", "entry": entries} if shape == "Bundle" else {"entry": entries}
           if shape == "bare-entry" else {"resourceType": "Medication", "id": "m"})
    got = list(bundle_entries(obj))
    assert got == ref_bundle_entries(obj)
    assert [type(u) for u, _ in got] == [type(u) for u, _ in ref_bundle_entries(obj)]
