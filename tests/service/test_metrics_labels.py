"""Metric labels stay bounded whatever a client sends."""
from __future__ import annotations


def test_unknown_methods_share_one_label(make_client):
    client = make_client()
    for method in ("BREW", "WHEN", "PROPFIND"):
        client.open("/cds-services", method=method)
    metrics = client.application.extensions["cds_metrics"]
    methods = {labels[0] for (mid, labels) in metrics._children if mid == id(metrics.http_duration)}
    assert "other" in methods and not methods & {"BREW", "WHEN", "PROPFIND"}


def test_labelled_children_are_reused(make_client):
    client = make_client()
    for _ in range(3):
        client.get("/cds-services")
    metrics = client.application.extensions["cds_metrics"]
    keys = [k for k in metrics._children if k[0] == id(metrics.http_duration) and k[1][1] == "/cds-services"]
    assert len(keys) == 1
    assert metrics.child(metrics.http_duration, *keys[0][1]) is metrics.child(metrics.http_duration, *keys[0][1])


def _samples(metrics, name):
    from prometheus_client import generate_latest

    return sorted(line for line in generate_latest(metrics.registry).decode().splitlines()
                  if line.startswith(name) and not line.startswith("#"))


def test_hook_children_by_raw_values_name_what_labels_name():
    """The raw-value cache finds the child `_label` names: equal values of other types (True == 1 ==
    1.0, a str subclass) keep their own labels, None and "" share "none"."""
    from prometheus_client import CollectorRegistry

    from cds_service.metrics import CdsMetrics

    class Name(str):
        def __str__(self):
            return "renamed"

    metrics = CdsMetrics(CollectorRegistry())
    calls = [("svc", "patient-view", 200), ("svc", "patient-view", 200), ("svc", "patient-view", True),
             ("svc", "patient-view", 200.0), ("svc", None, 404), ("svc", "", 404), (Name("svc"), "h", 1),
             ("svc", "h", 1), ("svc", "h", True), ("svc", "h", 1.0), ("s" * 100, "h", 500)]
    for service, hook, status in calls * 2:
        metrics.record_hook(service, hook, status, 0.004, None)
    counts = {line.split(" ")[0]: line.split(" ")[1] for line in
              _samples(metrics, "cds_hook_request_duration_seconds_count")}
    assert counts == {
        'cds_hook_request_duration_seconds_count{hook="patient-view",service="svc",status="200"}': "4.0",
        'cds_hook_request_duration_seconds_count{hook="patient-view",service="svc",status="True"}': "2.0",
        'cds_hook_request_duration_seconds_count{hook="patient-view",service="svc",status="200.0"}': "2.0",
        'cds_hook_request_duration_seconds_count{hook="none",service="svc",status="404"}': "4.0",
        'cds_hook_request_duration_seconds_count{hook="h",service="renamed",status="1"}': "2.0",
        'cds_hook_request_duration_seconds_count{hook="h",service="svc",status="1"}': "2.0",
        'cds_hook_request_duration_seconds_count{hook="h",service="svc",status="True"}': "2.0",
        'cds_hook_request_duration_seconds_count{hook="h",service="svc",status="1.0"}': "2.0",
        f'cds_hook_request_duration_seconds_count{{hook="h",service="{"s" * 64}",status="500"}}': "2.0",
    }


def test_http_children_by_raw_values_are_the_labelled_ones(make_client):
    client = make_client()
    for _ in range(3):
        client.get("/cds-services")
    metrics = client.application.extensions["cds_metrics"]
    assert metrics.http_child("GET", "/cds-services", 200) is metrics.child(metrics.http_duration, "GET",
                                                                            "/cds-services", "200")
    assert len([k for k in metrics._http_children if k[1] == "/cds-services"]) == 1


def test_metrics_for_a_sender_outside_an_app_context(make_client):
    import contextvars

    from cds_service.metrics import _metrics_for

    app = make_client().application

    def outside_any_context():  # in a fresh contextvars context: an app context another test left pushed is not here
        assert _metrics_for(app) is app.extensions["cds_metrics"]
        assert _metrics_for(object()) is None
        with app.app_context():
            assert _metrics_for(object()) is app.extensions["cds_metrics"]
        return True

    assert contextvars.Context().run(outside_any_context)
