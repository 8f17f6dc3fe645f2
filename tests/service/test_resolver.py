"""The pipeline's reference resolver: resources at hand first, then one read per reference."""
from cds_service.pipeline import _resolver


class CountingClient:
    def __init__(self):
        self.reads = []

    def read(self, ref, deadline):
        self.reads.append(ref)
        return {"resourceType": "Medication", "id": ref.split("/")[1], "code": {"text": "remote"}}


MED = {"resourceType": "Medication", "id": "m1", "code": {"text": "Xolair"}}
PREFETCH = {"medications": {"resourceType": "Bundle", "entry": [{"resource": MED}]}}
DRAFTS = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Medication", "id": "d1"}}]}


def test_resources_at_hand_resolve_without_a_read():
    client = CountingClient()
    resolve = _resolver(PREFETCH, DRAFTS, client, 0.0, "https://fhir.example/r4")
    assert resolve("Medication/m1") is MED
    assert resolve("https://fhir.example/r4/Medication/m1") is MED  # the server's own absolute URL
    assert resolve("Medication/d1")["id"] == "d1"  # from the draft orders
    assert client.reads == []


def test_a_reference_not_at_hand_is_read_once():
    client = CountingClient()
    resolve = _resolver(PREFETCH, None, client, 0.0, None)
    first = resolve("Medication/remote")
    assert first["code"]["text"] == "remote"
    assert resolve("Medication/remote") is first
    assert client.reads == ["Medication/remote"]


def test_contained_foreign_and_non_string_references_are_not_resolved():
    client = CountingClient()
    resolve = _resolver(PREFETCH, None, client, 0.0, "https://fhir.example/r4")
    assert resolve("#m1") is None
    assert resolve("https://other.example/fhir/Medication/m1") is None
    assert resolve(None) is None
    assert client.reads == []

