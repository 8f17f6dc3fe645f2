"""The service layer's cheaper paths give what the general ones gave: the request log record and
line, the prefetch merge, the metric children (each replaces or fronts general code; the general
code stays the reference)."""
from __future__ import annotations

import io
import json
import logging
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service import request_log
from cds_service.request_log import MessageFormatter

PV = "/cds-services/omalizumab-patient-view"


# -- request_log.MessageFormatter: Formatter("%(message)s") without the %-formatting ------------------
def _record(msg, args, exc=False, stack=None):
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("cds_service.x", logging.INFO, __file__, 1, msg, args, exc_info, "f", stack)


messages = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(messages, st.booleans(), st.sampled_from([None, "Stack (most recent call last):\n  here"]),
       st.sampled_from([(), ("x",), (1, 2)]))
def test_message_formatter_writes_what_the_percent_formatter_writes(msg, exc, stack, args):
    if args:
        msg = msg.replace("%", "%%") + " %s" * len(args)
    plain, fast = _record(msg, args, exc, stack), _record(msg, args, exc, stack)
    assert MessageFormatter().format(fast) == logging.Formatter("%(message)s").format(plain)
    assert fast.message == plain.message


def test_the_service_handler_uses_it():
    request_log.configure_logging("INFO")
    handlers = [h for h in logging.getLogger("cds_service").handlers if getattr(h, "_cds_handler", False)]
    assert handlers and all(isinstance(h.formatter, MessageFormatter) for h in handlers)


def test_the_request_record_is_what_log_info_made(make_client, spy, caplog):
    """One record per request on `cds_service.requests`, at INFO, naming request_log._finish as
    findCaller would, with the compact sorted-keys JSON line as its message."""
    from svc_helpers import full_prefetch, hook_request

    client = make_client(CDS_EVALUATOR=spy)
    caplog.set_level(logging.INFO, logger="cds_service")
    assert client.post(PV, json=hook_request(prefetch=full_prefetch())).status_code == 200
    records = [r for r in caplog.records if r.name == "cds_service.requests"]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.INFO and record.args == () and record.exc_info is None
    assert record.funcName == "_finish" and record.pathname == request_log._finish.__code__.co_filename
    assert record.filename == "request_log.py" and record.module == "request_log"
    lines = request_log.__loader__.get_source("cds_service.request_log").splitlines()
    assert "makeRecord" in lines[record.lineno - 1]
    line = json.loads(record.getMessage())
    assert list(line) == sorted(line) and record.getMessage() == json.dumps(line, sort_keys=True,
                                                                            separators=(",", ":"))
    assert line["event"] == "request" and line["path"] == "/cds-services/<service_id>"


def test_the_request_line_reaches_stderr_through_the_service_handler(make_client, spy, monkeypatch):
    from svc_helpers import full_prefetch, hook_request

    stream = io.StringIO()
    client = make_client(CDS_EVALUATOR=spy)
    handler = next(h for h in logging.getLogger("cds_service").handlers if getattr(h, "_cds_handler", False))
    monkeypatch.setattr(handler, "stream", stream)
    client.post(PV, json=hook_request(prefetch=full_prefetch()))
    lines = [json.loads(x) for x in stream.getvalue().splitlines() if '"event":"request"' in x]
    assert len(lines) == 1 and lines[0]["status"] == 200 and lines[0]["service"] == "omalizumab-patient-view"


def test_a_disabled_or_quiet_request_logger_logs_nothing(make_client, spy, caplog, monkeypatch):
    from svc_helpers import full_prefetch, hook_request

    client = make_client(CDS_EVALUATOR=spy)
    caplog.set_level(logging.INFO, logger="cds_service")
    monkeypatch.setattr(request_log.log, "disabled", True)
    client.post(PV, json=hook_request(prefetch=full_prefetch()))
    assert not [r for r in caplog.records if r.name == "cds_service.requests"]


# -- prefetch.complete_prefetch: one lookup per key, dicts answered without the ABC check ----------
class _Frozen(dict):
    pass


from collections.abc import Mapping  # noqa: E402


class _ReadOnly(Mapping):
    """A Mapping that is not a dict (the merge must treat it as one)."""

    def __init__(self, data):
        self._data = data

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


class _Client:
    def __init__(self):
        self.asked = None

    def fetch_many(self, queries, *, deadline, continuations=None):
        from cds_service.fhir_client import FetchResult

        self.asked = (dict(queries), {k: dict(v) for k, v in (continuations or {}).items()})
        return {k: FetchResult(k, reason="no") for k in [*queries, *(continuations or {})]}


PAGED = {"resourceType": "Bundle", "link": [{"relation": "next", "url": "https://f.example/next"}], "entry": []}


@pytest.mark.parametrize("wrap", [dict, _Frozen, _ReadOnly])
@pytest.mark.parametrize("with_client", [False, True])
def test_prefetch_merge_by_kind_of_value(wrap, with_client):
    from cds_service.fhir_client import NoFhirAccess
    from cds_service.prefetch import complete_prefetch

    templates = {"a": "Patient/{{context.patientId}}", "b": "Observation?patient={{context.patientId}}",
                 "c": "Condition?patient={{context.patientId}}", "d": "X?patient={{context.missing}}",
                 "e": "Y?patient={{context.patientId}}", "f": "Z?patient={{context.patientId}}"}
    oo = {"resourceType": "OperationOutcome", "issue": []}
    sent = wrap({"a": None, "b": wrap(dict(PAGED)), "c": oo, "f": {"resourceType": "Bundle", "entry": []}})
    client = _Client() if with_client else NoFhirAccess("none")
    out = complete_prefetch(templates, sent, {"patientId": "p1"}, client, deadline=1e18)
    assert out.data["a"] is None and out.data["f"] == {"resourceType": "Bundle", "entry": []}
    assert "d" in out.unavailable and out.reasons["d"] == "template token could not be filled from the context"
    if with_client:
        queries, continuations = client.asked
        assert set(queries) == {"c", "e"} and queries["e"] == "Y?patient=Patient/p1"
        assert list(continuations) == ["b"] and continuations["b"]["link"] == PAGED["link"]
        assert out.reasons["b"].startswith("further pages unavailable")
        assert dict(out.data["b"]) == PAGED
    else:
        assert {"c", "e"} <= set(out.unavailable) and "b" not in out.unavailable
        assert dict(out.data["b"]) == PAGED
