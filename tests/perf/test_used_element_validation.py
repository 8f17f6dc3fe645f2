"""The used-element validator (fhir_mappings/used_elements.py) against fhir.resources.

Two properties:
* never stricter than the library: whatever it rejects, the R4B model rejects too (so switching
  from the model to it never drops a resource the model accepted);
* it catches the library's rejections in every element a decision reads (the mutations below break
  one used element each).
Resources come from the demo patients (every type the mappings read).
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.json_edit import DELETE, changed

from fhir_mappings.used_elements import SCHEMAS, used_element_problem

DEMO = Path(__file__).resolve().parents[2] / "demo" / "patients"
MODULES = {"Observation": "observation", "Condition": "condition", "MedicationRequest": "medicationrequest",
           "MedicationStatement": "medicationstatement", "Medication": "medication",
           "AllergyIntolerance": "allergyintolerance", "Patient": "patient"}


def _library_valid(resource: dict) -> bool:
    model = getattr(importlib.import_module(f"fhir.resources.R4B.{MODULES[resource['resourceType']]}"),
                    resource["resourceType"])
    try:
        model.model_validate(resource)
        return True
    except Exception:  # noqa: BLE001 - any rejection
        return False


def _demo_resources() -> list[dict]:
    out = []
    for path in sorted(DEMO.glob("*.json")):
        doc = json.loads(path.read_text())
        entries = doc.get("entry", []) if doc.get("resourceType") == "Bundle" else [{"resource": doc}]
        out.extend(e["resource"] for e in entries if e["resource"].get("resourceType") in SCHEMAS)
    return out


RESOURCES = _demo_resources()


def test_demo_resources_are_valid_for_both():
    assert len({r["resourceType"] for r in RESOURCES}) >= 5
    for r in RESOURCES:
        assert used_element_problem(r) is None, (r["id"], used_element_problem(r))
        assert _library_valid(r), r["id"]


BAD_VALUES = [None, 0, 1.5, True, "", " x", "not a date", "2026-02-30", "2026-13", "2026-01-01T10:00:00",
              [], {}, [1], {"a": 1}, "x" * 70, "final", "http://a b"]


def _paths(value, prefix=()):
    """Every (path) to a scalar or container inside a resource."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "resourceType":
                continue
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_never_stricter_than_fhir_resources(data):
    resource = data.draw(st.sampled_from(RESOURCES))
    paths = list(_paths(resource))
    path = data.draw(st.sampled_from(paths))
    mutated = changed(resource, path, data.draw(st.sampled_from([*BAD_VALUES, DELETE])))
    if used_element_problem(mutated) is not None:
        assert not _library_valid(mutated), (path, used_element_problem(mutated))


USED_BREAKS = [
    ("Observation", ("subject",), "Patient/x"),
    ("Observation", ("status",), " final"),
    ("Observation", ("effectiveDateTime",), "2026-02-30"),
    ("Observation", ("effectiveDateTime",), "2026-02-03T10:00:00"),
    ("Observation", ("valueQuantity", "value"), True),
    ("Observation", ("valueQuantity", "unit"), 5),
    ("Observation", ("code", "coding"), {"code": "x"}),
    ("Observation", ("issued",), "yesterday"),
    ("Observation", ("meta",), {"lastUpdated": "June"}),
    ("Condition", ("onsetDateTime",), "yesterday"),
    ("Condition", ("code",), "asthma"),
    ("Condition", ("clinicalStatus", "coding"), "active"),
    ("AllergyIntolerance", ("patient",), "Patient/x"),
    ("AllergyIntolerance", ("recordedDate",), "2026-02-30"),
    ("MedicationRequest", ("authoredOn",), "last Tuesday"),
    ("MedicationRequest", ("dosageInstruction",), {"text": "x"}),
    ("MedicationStatement", ("subject",), []),
    ("Patient", ("birthDate",), "1980-02-30"),
    ("Patient", ("birthDate",), "1980-01-01T00:00:00Z"),
]


@pytest.mark.parametrize("rtype,path,value", USED_BREAKS, ids=lambda x: str(x))
def test_broken_used_elements_are_caught_like_the_library(rtype, path, value):
    resource = next((r for r in RESOURCES if r["resourceType"] == rtype and path[0] in r), None)
    if resource is None:
        resource = next(r for r in RESOURCES if r["resourceType"] == rtype)
    mutated = changed(resource, path, value)
    assert not _library_valid(mutated), "the mutation must be invalid FHIR in the first place"
    problem = used_element_problem(mutated)
    assert problem is not None and path[0] in problem, problem


def test_unused_elements_do_not_count():
    obs = next(r for r in RESOURCES if r["resourceType"] == "Observation")
    mutated = changed(obs, ("referenceRange",), "not a list")
    assert not _library_valid(mutated)
    assert used_element_problem(mutated) is None  # validate only what decisions use
