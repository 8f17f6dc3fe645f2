"""Defects the fuzzers found, pinned as plain deterministic tests (each names the run that found it).

Hypothesis finds these at random; a regression must not depend on luck, so each failing shape is kept
here in its simplest form.
"""
from __future__ import annotations

import copy
import json
import math
from datetime import date

import pytest

from rel_requests import PATIENT_ID, full_prefetch, hook_request

MAX_FLOAT = 1.7976931348623157e308
PV = "/cds-services/omalizumab-patient-view"

# (prefetch key, UCUM codes a lab may send for it)
KINDS = {
    "totalIge": ["[IU]/mL", "k[IU]/L", "ng/mL", "ug/L"],
    "weight": ["kg", "g", "[lb_av]"],
    "eosinophils": ["/uL", "10*3/uL", "10*9/L", "%"],
    "egfr": ["mL/min/{1.73_m2}"],
    "specificIge": ["k[IU]/L", "[IU]/mL", "k[IU]/mL"],
}


def _absurd_prefetches():
    for key, units in KINDS.items():
        for unit in units:
            for value in (MAX_FLOAT, -MAX_FLOAT, 1e300, 1e-320, 0, -0.0):
                yield pytest.param(key, unit, value, id=f"{key}-{unit}-{value:g}")


@pytest.mark.parametrize("key,unit,value", list(_absurd_prefetches()))
def test_absurd_quantities_never_become_non_finite_facts(key, unit, value):
    """Found by the long demo-seeded fuzz run (CDS_LONG=1): a specific IgE of 1.8e308 kU/L became an
    infinite fact and clinical_core crashed formatting it (OverflowError in clinical_core.dosing.fmt_num)."""
    import clinical_core
    import fhir_mappings

    pf = copy.deepcopy(full_prefetch())
    entries = pf[key]["entry"]
    assert entries
    entries[0]["resource"]["valueQuantity"] = {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                                               "code": unit}
    facts = fhir_mappings.extract_facts(pf, patient_id=PATIENT_ID, evaluation_date=date(2025, 6, 1))
    values = [m.value for m in (facts.weight, facts.eosinophils_latest, facts.eosinophils_max_12m, facts.egfr,
                                facts.lte4, facts.total_ige.measurement) if m is not None]
    values += [s.measurement.value for s in facts.specific_ige]
    assert all(math.isfinite(v) for v in values), values
    clinical_core.assess(facts)  # must not raise


@pytest.mark.parametrize("value", ["1e300", "-1e300", "1.7976931348623157e308", "1e30", "1e999"])
def test_absurd_weight_over_http_is_not_a_500(tmp_path, value):
    """The HTTP face of the defect above: a body weight of 1e300 kg answered 500 (decimal.InvalidOperation
    in clinical_core.dosing.round_weight). Cards (the value ignored as implausible) or a 4xx are fine."""
    from cds_service.app import create_app

    app = create_app({"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/w.sqlite3",
                      "CDS_CLOCK": "2025-06-01"})
    raw = json.dumps(hook_request(prefetch=full_prefetch()))
    assert '"value": 71.37' in raw
    resp = app.test_client().post(PV, data=raw.replace('"value": 71.37', '"value": ' + value),
                                  content_type="application/json")
    assert resp.status_code < 500, resp.get_data(as_text=True)[:300]


@pytest.mark.parametrize("link", [5, "next", {"relation": "next"}, [5, None, {"relation": "next", "url": 7}],
                                  [{"relation": "next", "url": {"x": 1}}]])
def test_malformed_bundle_link_in_prefetch_is_not_a_500(tmp_path, link):
    """Found by the long HTTP fuzz run: a prefetched Bundle whose `link` was an integer gave a 500
    (TypeError in cds_service.fhir_client._next_link)."""
    from cds_service.app import create_app

    app = create_app({"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/r.sqlite3",
                      "CDS_CLOCK": "2025-06-01", "CDS_ALLOWED_FHIR_SERVERS": "http://127.0.0.1:9/fhir"})
    pf = full_prefetch()
    pf["totalIge"]["link"] = link
    for body in (hook_request(prefetch=pf), hook_request(prefetch=pf, fhir_server="http://127.0.0.1:9/fhir",
                                                         fhir_token="t")):
        resp = app.test_client().post(PV, json=body)
        assert resp.status_code < 500, resp.get_data(as_text=True)[:300]


@pytest.mark.parametrize("with_next", [False, True], ids=["no-next", "next"])
@pytest.mark.parametrize("entry", [5, "abc", {"resource": {}}, None])
def test_malformed_bundle_entry_is_not_a_500(tmp_path, fault_server, entry, with_next):
    """Same family (found reading the first one's traceback): a prefetched Bundle whose `entry` is not a
    list gave a 500 (TypeError in cds_service.pipeline._index_resources), with or without paging."""
    from cds_service.app import create_app

    app = create_app({"CDS_AUTH": "off", "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/r.sqlite3",
                      "CDS_CLOCK": "2025-06-01", "CDS_ALLOWED_FHIR_SERVERS": fault_server.url,
                      "CDS_FHIR_BUDGET_SECONDS": "1.0"})
    pf = full_prefetch()
    pf["totalIge"] = {"resourceType": "Bundle", "type": "searchset", "entry": entry}
    if with_next:
        pf["totalIge"]["link"] = [{"relation": "next", "url": f"{fault_server.url}/Observation?code=19113-0&page=2"}]
    resp = app.test_client().post(PV, json=hook_request(prefetch=pf, fhir_server=fault_server.url, fhir_token="t"))
    assert resp.status_code in (200, 400), resp.get_data(as_text=True)[:300]
