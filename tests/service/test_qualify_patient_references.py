"""`prefetch.qualify_patient_references`: the service's own searches name the patient as Patient/<id>
(a real server, Medplum's FHIR engine, answers a bare `patient=<id>` with an empty searchset)."""
import pytest

import fhir_mappings
from cds_service.prefetch import qualify_patient_references, render_template


@pytest.mark.parametrize("query,expected", [
    ("Observation?patient=p1&code=http://loinc.org|19113-0&_count=20",
     "Observation?patient=Patient/p1&code=http://loinc.org|19113-0&_count=20"),
    ("Condition?subject=p1", "Condition?subject=Patient/p1"),
    ("Observation?patient=Patient/p1", "Observation?patient=Patient/p1"),
    ("Observation?patient=Patient%2Fp1", "Observation?patient=Patient%2Fp1"),
    ("Observation?patient=https://fhir.example.org/r4/Patient/p1", "Observation?patient=https://fhir.example.org/r4/Patient/p1"),
    ("Observation?patient=p1,p2", "Observation?patient=Patient/p1,Patient/p2"),
    ("Observation?patient:Patient=p1", "Observation?patient:Patient=p1"),  # typed modifier: already says Patient
    ("Observation?performer=p1&patient=", "Observation?performer=p1&patient="),
    ("Patient/p1", "Patient/p1"),
    ("MedicationRequest?code=patient", "MedicationRequest?code=patient"),
])
def test_qualify(query, expected):
    assert qualify_patient_references(query) == expected


def test_every_discovery_search_names_the_patient_once_qualified():
    for key, template in fhir_mappings.prefetch_templates().items():
        rendered = qualify_patient_references(render_template(template, {"patientId": "demo-1"}))
        if "?" in rendered:
            assert "patient=Patient/demo-1" in rendered, (key, rendered)
        else:
            assert rendered == "Patient/demo-1"
