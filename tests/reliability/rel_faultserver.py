"""A misbehaving FHIR server on loopback, for fault-injection tests over real HTTP.

Why a real socket server and not `responses`: timeouts, trickled bodies, connection resets and redirect
handling only show their true behaviour on a real TCP connection through `requests`/urllib3.

`FaultyFHIRServer` serves a small patient chart in mode "ok" and misbehaves per rule in every other mode.
Rules are (regex on "path?query", mode) pairs, first match wins, else the default mode. Every request is
recorded (method, path, headers), so a test can assert what the service did and did not ask for.
The same class, with no chart, is the "attacker" server of the JWT and fhirServer-trust tests: it only
records that it was contacted and answers with whatever JSON it was given.
"""
from __future__ import annotations

import io
import json
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MODES = (
    "ok",  # serve the chart
    "slow",  # wait `slow_seconds` before answering (bounded, wakes on shutdown)
    "trickle",  # send headers at once, then the body one byte every `trickle_interval` seconds
    "500",
    "401",
    "404",
    "malformed",  # truncated JSON with a FHIR content type
    "non-fhir",  # HTML page with 200 (a proxy's login page, say)
    "non-fhir-json",  # valid JSON that is not a FHIR resource
    "huge",  # a searchset Bundle of `huge_entries` Observations (tens of MB)
    "many",  # a valid searchset of `many_entries` matching Observations (a few MB): more than any page asked for
    "next-loop",  # a searchset Bundle whose `next` link points back at the same URL
    "next-offhost",  # a searchset Bundle whose `next` link points at `offhost_url`
    "redirect-offhost",  # 302 to `offhost_url`
    "reset",  # TCP reset (SO_LINGER 0 close) after reading the request
    "record",  # attacker mode: answer `record_body` as JSON, 200
)

FAULT_MODES = ("slow", "trickle", "500", "401", "404", "malformed", "non-fhir", "non-fhir-json", "huge",
               "many", "next-loop", "next-offhost", "redirect-offhost", "reset")


@dataclass
class Hit:
    method: str
    path: str  # path with query
    headers: dict[str, str]
    mode: str
    at: float = field(default_factory=time.monotonic)


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr noise
        return

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= 10_000_000:
            self.rfile.read(length)
        self._serve()

    def _serve(self) -> None:
        owner = self.server.owner
        mode = owner.mode_for(self.path)
        owner._record(Hit(self.command, self.path, {k: v for k, v in self.headers.items()}, mode))
        getattr(self, "_mode_" + mode.replace("-", "_"))(owner)

    # -- helpers ---------------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str = "application/fhir+json",
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except OSError:
                pass

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode())

    def _outcome(self, status: int, text: str) -> None:
        self._json(status, {"resourceType": "OperationOutcome",
                            "issue": [{"severity": "error", "code": "exception", "diagnostics": text}]})

    # -- modes -----------------------------------------------------------------------------------------
    def _mode_ok(self, owner: "FaultyFHIRServer") -> None:
        status, body = owner.answer(self.path)
        self._json(status, body)

    def _mode_slow(self, owner: "FaultyFHIRServer") -> None:
        owner._stopping.wait(owner.slow_seconds)
        self._mode_ok(owner)

    def _mode_trickle(self, owner: "FaultyFHIRServer") -> None:
        _status, body = owner.answer(self.path)
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        deadline = time.monotonic() + owner.slow_seconds
        try:
            for i in range(len(data)):
                if owner._stopping.wait(owner.trickle_interval) or time.monotonic() > deadline:
                    break
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def _mode_500(self, owner: "FaultyFHIRServer") -> None:
        self._outcome(500, "internal error (injected)")

    def _mode_401(self, owner: "FaultyFHIRServer") -> None:
        self._send(401, b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login"}]}',
                   extra={"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def _mode_404(self, owner: "FaultyFHIRServer") -> None:
        self._outcome(404, "not found (injected)")

    def _mode_malformed(self, owner: "FaultyFHIRServer") -> None:
        self._send(200, b'{"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {"res')

    def _mode_non_fhir(self, owner: "FaultyFHIRServer") -> None:
        self._send(200, b"<html><body><h1>Please log in</h1></body></html>", ctype="text/html")

    def _mode_non_fhir_json(self, owner: "FaultyFHIRServer") -> None:
        self._send(200, b'{"hello": "world", "entry": 7, "items": [1, 2, 3]}', ctype="application/json")

    def _mode_huge(self, owner: "FaultyFHIRServer") -> None:
        self._send(200, owner.huge_body())

    def _mode_many(self, owner: "FaultyFHIRServer") -> None:
        self._send(200, owner.many_body(self.path))

    def _mode_next_loop(self, owner: "FaultyFHIRServer") -> None:
        _status, body = owner.answer(self.path)
        if body.get("resourceType") != "Bundle":
            body = owner.bundle([])
        body = dict(body)
        body["link"] = [{"relation": "self", "url": owner.url + self.path},
                        {"relation": "next", "url": owner.url + self.path}]
        self._json(200, body)

    def _mode_next_offhost(self, owner: "FaultyFHIRServer") -> None:
        _status, body = owner.answer(self.path)
        if body.get("resourceType") != "Bundle":
            body = owner.bundle([])
        body = dict(body)
        body["link"] = [{"relation": "next", "url": (owner.offhost_url or "http://127.0.0.1:9") + self.path}]
        self._json(200, body)

    def _mode_redirect_offhost(self, owner: "FaultyFHIRServer") -> None:
        target = (owner.offhost_url or "http://127.0.0.1:9") + self.path
        self._send(302, b"", extra={"Location": target})

    def _mode_reset(self, owner: "FaultyFHIRServer") -> None:
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True
        self.wfile = io.BytesIO()  # the handler's final flush must not touch the dead socket

    def _mode_record(self, owner: "FaultyFHIRServer") -> None:
        self._json(200, owner.record_body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: "FaultyFHIRServer"

    def handle_error(self, request: Any, client_address: Any) -> None:  # a reset client is expected
        return


class FaultyFHIRServer:
    """Threaded HTTP server on 127.0.0.1 (free port). Use as a context manager or call start()/stop()."""

    def __init__(self, chart: dict[str, list[dict]] | None = None, *, default_mode: str = "ok",
                 slow_seconds: float = 8.0, trickle_interval: float = 0.2, huge_entries: int = 40_000,
                 record_body: Any = None) -> None:
        self.chart = chart or {}
        self.default_mode = default_mode
        self.rules: list[tuple[re.Pattern[str], str]] = []
        self.slow_seconds = slow_seconds
        self.trickle_interval = trickle_interval
        self.huge_entries = huge_entries
        self.many_entries = 3_000
        self.record_body = record_body if record_body is not None else {}
        self.offhost_url: str | None = None
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._huge: bytes | None = None
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> "FaultyFHIRServer":
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"faulty-fhir-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FaultyFHIRServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- configuration ---------------------------------------------------------------------------------
    def set_mode(self, mode: str, pattern: str | None = None) -> None:
        """Default mode (pattern None) or a rule for paths matching `pattern` (regex, searched)."""
        if mode not in MODES:
            raise ValueError(mode)
        with self._lock:
            if pattern is None:
                self.default_mode = mode
                self.rules.clear()
            else:
                self.rules.insert(0, (re.compile(pattern), mode))

    def reset_hits(self) -> None:
        with self._lock:
            self.hits.clear()

    def mode_for(self, path: str) -> str:
        with self._lock:
            for rx, mode in self.rules:
                if rx.search(path):
                    return mode
            return self.default_mode

    def _record(self, hit: Hit) -> None:
        with self._lock:
            self.hits.append(hit)

    def hit_count(self) -> int:
        with self._lock:
            return len(self.hits)

    # -- content ---------------------------------------------------------------------------------------
    def bundle(self, resources: list[dict]) -> dict:
        return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
                "entry": [{"fullUrl": f"{self.url}/{r.get('resourceType')}/{r.get('id')}", "resource": r,
                           "search": {"mode": "match"}} for r in resources]}

    def answer(self, path: str) -> tuple[int, dict]:
        """What a correct FHIR server would answer: read by id, or a searchset filtered by `code`."""
        parts = urlsplit(path)
        segs = [s for s in parts.path.split("/") if s]
        if not segs:
            return 404, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}
        rtype = segs[-2] if len(segs) >= 2 and segs[-1][:1].isalnum() and segs[-2][:1].isupper() else segs[-1]
        resources = self.chart.get(rtype, [])
        if len(segs) >= 2 and rtype == segs[-2]:
            rid = segs[-1]
            for r in resources:
                if r.get("id") == rid:
                    return 200, r
            return 404, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}
        query = parse_qs(parts.query)
        codes = {c.split("|")[-1] for v in query.get("code", []) for c in v.split(",") if c}
        if codes:
            resources = [r for r in resources
                         if codes & {c.get("code") for c in (r.get("code") or {}).get("coding", [])
                                     if isinstance(c, dict)}]
        return 200, self.bundle(resources)

    def many_body(self, path: str) -> bytes:
        """A searchset of `many_entries` entries shaped like what the search asked for."""
        _status, small = self.answer(path)
        template = next((e["resource"] for e in small.get("entry") or []), None) if isinstance(small, dict) else None
        if template is None:
            template = {"resourceType": "Observation", "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                        "effectiveDateTime": "2024-01-01",
                        "valueQuantity": {"value": 70, "unit": "kg", "system": "http://unitsofmeasure.org",
                                          "code": "kg"}}
        entries = [{"resource": {**template, "id": f"many-{i}"}} for i in range(self.many_entries)]
        return json.dumps({"resourceType": "Bundle", "type": "searchset", "total": len(entries),
                           "entry": entries}).encode()

    def huge_body(self) -> bytes:
        if self._huge is None:
            entry = {"resource": {"resourceType": "Observation", "id": "obs-0", "status": "final",
                                  "code": {"coding": [{"system": "http://loinc.org", "code": "19113-0"}]},
                                  "subject": {"reference": "Patient/p1"},
                                  "effectiveDateTime": "2024-01-01",
                                  "valueQuantity": {"value": 250, "unit": "IU/mL",
                                                    "system": "http://unitsofmeasure.org", "code": "[IU]/mL"},
                                  "note": [{"text": "x" * 200}]}}
            one = json.dumps(entry).encode()
            head = b'{"resourceType":"Bundle","type":"searchset","entry":['
            self._huge = head + b",".join([one] * self.huge_entries) + b"]}"
        return self._huge
