"""The request checks' shortcuts give the general forms' answers: the prefetch entry check (a plain
dict with a plain str resourceType) and the remembered FHIR bases of a Settings."""
from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service import validation
from cds_service.settings import Settings


class StrSub(str):
    pass


def _general_check_prefetch(prefetch, patient_id, problems):
    """The loop as it was before the shortcut (the reference)."""
    if not isinstance(prefetch, dict):
        problems.append("prefetch: must be an object")
        return
    for key, value in prefetch.items():
        if value is None:
            continue
        if not isinstance(value, dict) or not validation._is_str(value.get("resourceType")):
            problems.append(f"prefetch.{key}: must be a FHIR resource, a Bundle, or null")
    patient = prefetch.get("patient")
    if (isinstance(patient, dict) and patient.get("resourceType") == "Patient"
            and isinstance(patient_id, str) and patient.get("id") not in (None, patient_id)):
        problems.append("prefetch.patient: Patient.id does not match context.patientId")


rtypes = st.one_of(st.none(), st.sampled_from(["Patient", "Bundle", "", "  ", "\t", " x "]),
                   st.text(max_size=4), st.integers(), st.just(StrSub("Patient")), st.just(StrSub(" ")))
entries = st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=2),
                    st.fixed_dictionaries({}, optional={"resourceType": rtypes, "id": st.sampled_from(["p", "q"])}))


@settings(max_examples=800, deadline=None)
@given(st.one_of(st.dictionaries(st.sampled_from(["patient", "a", "b", "c"]), entries, max_size=4),
                 st.none(), st.lists(st.integers(), max_size=2)),
       st.sampled_from(["p", None, 3]))
def test_check_prefetch_is_the_general_loop(prefetch, patient_id):
    fast, general = [], []
    validation._check_prefetch(prefetch, patient_id, fast)
    _general_check_prefetch(prefetch, patient_id, general)
    assert fast == general


def test_bases_without_issuer_are_computed_once_and_as_before():
    for conf in (Settings(), Settings(allowed_fhir_servers=("http://a/fhir", "http://b/fhir", "http://a/fhir")),
                 Settings(demo=True, allowed_fhir_servers=("http://a/fhir",))):
        bases = list(conf.allowed_fhir_servers)
        if conf.demo:
            bases.extend(conf.demo_fhir_bases())
        expected = tuple(dict.fromkeys(bases))
        assert conf.fhir_servers_without_issuer() == expected
        assert conf.fhir_servers_without_issuer() is conf.fhir_servers_without_issuer()
        copy = dataclasses.replace(conf, demo=not conf.demo)  # a new Settings computes its own
        assert "_bases_without_issuer" not in copy.__dict__
        assert copy == dataclasses.replace(conf, demo=not conf.demo)


content_types = st.one_of(
    st.none(),
    st.sampled_from(["application/json", "application/json; charset=utf-8", "Application/JSON",
                     " application/json", "application/json ", "application/fhir+json", "text/plain",
                     "application/jsonx", "application/json;", "", "multipart/form-data; boundary=x"]),
    st.text(max_size=20))


@settings(max_examples=500, deadline=None)
@given(content_types)
def test_the_exact_json_content_type_shortcut_decides_as_the_parse(content_type):
    import io

    from flask import Request

    env = {"REQUEST_METHOD": "POST", "SERVER_NAME": "h", "SERVER_PORT": "80", "PATH_INFO": "/",
           "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b"")}
    if content_type is not None:
        env["CONTENT_TYPE"] = content_type
    req = Request(env)
    general = validation.is_json_mimetype(req.mimetype or "")
    fast = req.environ.get("CONTENT_TYPE") == "application/json" or general
    assert fast == general
