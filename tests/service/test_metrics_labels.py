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
