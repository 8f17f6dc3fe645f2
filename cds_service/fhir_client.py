"""Reading the client's FHIR server when prefetch is incomplete (CDS Hooks 2.0, FHIR Resource Access).

Why it looks like this:
* One pooled `requests.Session` per app (connection reuse), no retries, no redirects: a 3xx is an
  error, so a FHIR server can never send us (and the bearer token) to another host. Requests are
  sent through the Session's adapter without its cookie jar: a FHIR server's Set-Cookie is never
  sent back, on that call or on a later one (which may be another EHR's).
* Every request has connect and read timeouts, and the whole fetch of one service call shares one
  deadline (CDS_FHIR_BUDGET_SECONDS); bodies are read in chunks so a slow-drip server cannot hold us
  past the deadline, and their size is capped.
* Keys are fetched in parallel on a shared thread pool; Bundle `next` links are followed up to
  CDS_FHIR_MAX_PAGES pages, and only when they stay on the same FHIR base.
* The access token lives only in this object for the duration of one call; it is never logged,
  stored or shown in `repr`.
"""
from __future__ import annotations

import json
import logging
import time
from concurrent.futures import FIRST_EXCEPTION, Executor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from collections.abc import Mapping  # isinstance on typing.Mapping is ~10x slower
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from .settings import Settings, normalize_base_url
from .validation import SLOW, fast_loads

log = logging.getLogger("cds_service.fhir")

MAX_RESPONSE_BYTES = 20 * 1024 * 1024
FHIR_ACCEPT = "application/fhir+json, application/json;q=0.9"


_ORJSON_MAX_BRACKETS = 500


def parse_body(raw: bytes) -> Any:
    """`json.loads(raw.decode("utf-8-sig"))`: the same value, or the same exception.

    The request parser's orjson guard (`validation.fast_loads`: orjson only where its answer is
    provably the stdlib's, else SLOW) with one more case kept from orjson: nesting that the stdlib
    refuses with RecursionError near Python's recursion limit (a body with 500 or more brackets goes
    to the stdlib; its depth is at most its bracket count). Hook requests get their depth checked
    separately; a FHIR response does not.
    """
    if raw.count(b"{") + raw.count(b"[") < _ORJSON_MAX_BRACKETS:
        body = fast_loads(raw)
        if body is not SLOW:
            return body
    return json.loads(raw.decode("utf-8-sig"))


class FhirFetchError(Exception):
    """One fetch failed; the message is safe to log (no token, no patient data)."""


@dataclass
class FetchResult:
    key: str
    value: dict | None = None
    ok: bool = False
    reason: str | None = None
    duration_s: float = 0.0
    pages: int = 0
    notes: list[str] = field(default_factory=list)
    partial: bool = False  # value usable but incomplete (page limit, paging loop, off-host next link)


def new_session(pool_size: int = 16) -> requests.Session:
    """A Session for FHIR calls: pooled connections, no automatic retries, no environment proxies
    or .netrc credentials (trust_env off, so nothing but our own headers is sent)."""
    session = requests.Session()
    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.max_redirects = 0
    return session


def is_operation_outcome(value: Any) -> bool:
    # the plain dict (what a parsed body holds) answered first: the ABC isinstance costs ~1,600
    # instructions, and every prefetch key of every request asks
    return (type(value) is dict or isinstance(value, Mapping)) and value.get("resourceType") == "OperationOutcome"


def as_list(value: Any) -> list:
    """A JSON array as a list; anything else (a hostile or broken client's object, number, string) as []."""
    return value if isinstance(value, list) else []


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in as_list(bundle.get("link")):
        if (isinstance(link, Mapping) and link.get("relation") == "next"
                and isinstance(link.get("url"), str) and link["url"]):
            return link["url"]
    return None


class NoFhirAccess:
    """Stands in for a client when the service may not (or cannot) read the FHIR server."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.base_url = None

    def fetch_many(self, queries: Mapping[str, str], *, deadline: float,
                   continuations: Mapping[str, dict] | None = None) -> dict[str, FetchResult]:
        results = {k: FetchResult(k, reason=self.reason) for k in queries}
        for k in continuations or {}:
            results[k] = FetchResult(k, reason=self.reason)
        return results

    def read(self, reference: str, *, deadline: float) -> dict | None:
        return None

    def __bool__(self) -> bool:
        return False


class FhirClient:
    """Reads one FHIR server for one service call."""

    def __init__(self, base_url: str, *, token: str | None, session: requests.Session,
                 settings: Settings, executor: Executor | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._norm_base = normalize_base_url(self.base_url)
        self._host = (urlsplit(self.base_url).hostname or "").lower()
        self.__token = token
        self.session = session
        self.settings = settings
        self.executor = executor
        self.__headers = self._headers()  # holds the token: never logged or shown, like the token

    def __repr__(self) -> str:  # never show the token
        return f"FhirClient({self.base_url!r}, token={'set' if self.__token else 'none'})"

    # -- single requests -------------------------------------------------------------------
    def _url_allowed(self, url: str) -> bool:
        norm = normalize_base_url(url.split("?", 1)[0])
        return norm == self._norm_base or norm.startswith(self._norm_base + "/")

    def _get_json(self, url: str, *, deadline: float) -> tuple[int, dict | None]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FhirFetchError("time budget exhausted")
        if not self._url_allowed(url):
            raise FhirFetchError("URL outside fhirServer refused")
        timeout = (min(self.settings.fhir_connect_timeout, remaining),
                   min(self.settings.fhir_read_timeout, remaining))
        try:
            with self._send(url, timeout) as resp:
                status = resp.status_code
                if 300 <= status < 400:
                    raise FhirFetchError(f"HTTP {status} redirect not followed")
                if status in (404, 410):
                    return status, None
                if status >= 400:
                    raise FhirFetchError(f"HTTP {status}")
                chunks = self._read_body(resp, deadline)
        except requests.Timeout:
            raise FhirFetchError("timeout") from None
        except requests.RequestException as exc:
            raise FhirFetchError(f"connection error ({type(exc).__name__})") from None
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            raise FhirFetchError("timeout") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise FhirFetchError(f"connection error ({type(exc).__name__})") from None
        try:
            body = parse_body(b"".join(chunks))
        except (ValueError, UnicodeDecodeError):
            raise FhirFetchError("response is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise FhirFetchError("response is not a FHIR resource")
        if is_operation_outcome(body):
            raise FhirFetchError("server answered with an OperationOutcome")
        return status, body

    def _headers(self) -> CaseInsensitiveDict:
        """The Session's headers with ours on top (what `Session.request` merges on every call)."""
        headers = CaseInsensitiveDict(self.session.headers)
        headers["Accept"] = FHIR_ACCEPT
        if self.__token:
            headers["Authorization"] = f"Bearer {self.__token}"
        return CaseInsensitiveDict((k, v) for k, v in headers.items() if v is not None)

    def _send(self, url: str, timeout: tuple[float, float]) -> requests.Response:
        """`session.get(url, headers=..., timeout=timeout, allow_redirects=False, stream=True)`
        without the Session's per-call work (about a third of a fetch's CPU): the request is
        prepared as `Session.prepare_request` prepares it (same URL quoting, header validation and
        errors) and sent through the Session's own adapter (its pool, its exception mapping), with
        the Session's verify/cert/proxies (trust_env off: none from the environment).

        Left out on purpose: the Session's cookie jar. A FHIR server's Set-Cookie is not kept for
        (nor sent on) later calls, which may be another EHR's; nothing but our own headers is sent.
        A redirect is handed to the Session's `resolve_redirects` exactly as `Session.send` does with
        allow_redirects=False (with max_redirects 0 it raises TooManyRedirects, never follows).
        """
        session = self.session
        prep = requests.PreparedRequest()
        prep.prepare(method="GET", url=url, headers=self.__headers)  # no params, no body
        kwargs = {"stream": True, "timeout": timeout, "verify": session.verify, "cert": session.cert,
                  "proxies": dict(session.proxies)}
        resp = session.get_adapter(url=prep.url).send(prep, **kwargs)
        if resp.is_redirect:
            try:
                next(session.resolve_redirects(resp, prep, yield_requests=True, **kwargs), None)
            except BaseException:
                resp.close()
                raise
        return resp

    @staticmethod
    def _read_body(resp: requests.Response, deadline: float) -> list[bytes]:
        """Read the body with `read1` (returns whatever one socket read gives), checking the deadline
        and the size cap after every read: a server trickling bytes cannot hold the thread."""
        chunks: list[bytes] = []
        size = 0
        raw = resp.raw
        while True:
            if time.monotonic() > deadline:
                raise FhirFetchError("time budget exhausted while reading")
            chunk = raw.read1(65536, decode_content=True)
            if not chunk:
                return chunks
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise FhirFetchError("response too large")
            chunks.append(chunk)

    def _entry_cap(self, query: str | None) -> int:
        """Most entries kept for one key: the template's `_count` per page times the page limit (a
        server ignoring `_count` cannot flood the mappings), else CDS_FHIR_MAX_ENTRIES."""
        if query:
            count = parse_qs(urlsplit(query).query).get("_count")
            if count and count[0].isdigit() and int(count[0]) > 0:
                return int(count[0]) * self.settings.fhir_max_pages
        return self.settings.fhir_max_entries

    def _follow_pages(self, bundle: dict, result: FetchResult, *, deadline: float,
                      first_url: str | None = None, cap: int | None = None) -> dict:
        """Merge the entries of `next` pages into `bundle` (a copy), up to the page limit."""
        merged = dict(bundle)
        entries = list(as_list(bundle.get("entry")))
        next_url = _next_link(bundle)
        pages = max(result.pages, 1)
        visited: set[str] = {first_url} if first_url else set()
        while next_url:
            if pages >= self.settings.fhir_max_pages:
                result.notes.append(f"stopped after {pages} pages (page limit)")
                result.partial = True
                break
            url = urljoin(self.base_url + "/", next_url)
            if not self._url_allowed(url):
                result.notes.append("next link outside fhirServer not followed")
                result.partial = True
                break
            if url in visited:
                result.notes.append("paging loop (next link seen before) stopped")
                result.partial = True
                break
            visited.add(url)
            _, page = self._get_json(url, deadline=deadline)
            pages += 1
            if page is None or page.get("resourceType") != "Bundle":
                raise FhirFetchError("next page is not a Bundle")
            entries.extend(as_list(page.get("entry")))
            next_url = _next_link(page)
        cap = cap if cap is not None else self.settings.fhir_max_entries
        if len(entries) > cap:
            result.notes.append(f"more entries than asked for: kept the first {cap}")
            result.partial = True
            entries = entries[:cap]
        merged["entry"] = entries
        merged["link"] = [link for link in as_list(bundle.get("link"))
                          if isinstance(link, Mapping) and link.get("relation") != "next"]
        if not merged["link"]:
            del merged["link"]
        if not entries:
            del merged["entry"]
        result.pages = pages
        return merged

    def fetch(self, key: str, query: str, *, deadline: float) -> FetchResult:
        """Run one rendered prefetch query ("Patient/1" or "Observation?...")."""
        result = FetchResult(key)
        started = time.monotonic()
        try:
            status, body = self._get_json(f"{self.base_url}/{query.lstrip('/')}", deadline=deadline)
            result.pages = 1
            is_search = "?" in query or "/" not in query.strip("/")
            if body is None:
                if is_search:
                    raise FhirFetchError(f"HTTP {status} for a search")
                result.value, result.ok = None, True  # read of a resource that does not exist
                result.notes.append(f"HTTP {status}: no such resource on fhirServer")
            elif body.get("resourceType") == "Bundle":
                result.value = self._follow_pages(body, result, deadline=deadline,
                                                  first_url=f"{self.base_url}/{query.lstrip('/')}",
                                                  cap=self._entry_cap(query))
                result.ok = True
            elif is_search:
                raise FhirFetchError("search did not return a Bundle")
            else:
                result.value, result.ok = body, True
        except FhirFetchError as exc:
            result.reason = str(exc)
        result.duration_s = time.monotonic() - started
        return result

    def continue_paging(self, key: str, bundle: dict, *, deadline: float) -> FetchResult:
        """Follow `next` links of a Bundle the client prefetched."""
        result = FetchResult(key, pages=1)
        started = time.monotonic()
        try:
            result.value, result.ok = self._follow_pages(bundle, result, deadline=deadline), True
        except FhirFetchError as exc:
            result.reason = str(exc)
        result.duration_s = time.monotonic() - started
        return result

    def fetch_many(self, queries: Mapping[str, str], *, deadline: float,
                   continuations: Mapping[str, dict] | None = None) -> dict[str, FetchResult]:
        """Fetch every query (and continue every paged Bundle) in parallel, all within `deadline`."""
        jobs: dict[str, Any] = {}
        own_pool = None
        executor = self.executor
        total = len(queries) + len(continuations or {})
        if total == 0:
            return {}
        if executor is None:
            own_pool = executor = ThreadPoolExecutor(max_workers=min(total, self.settings.fhir_max_workers),
                                                     thread_name_prefix="fhir-fetch")
        try:
            for key, query in queries.items():
                jobs[key] = executor.submit(self.fetch, key, query, deadline=deadline)
            for key, bundle in (continuations or {}).items():
                jobs[key] = executor.submit(self.continue_paging, key, bundle, deadline=deadline)
            wait(list(jobs.values()), timeout=max(0.0, deadline - time.monotonic()) + 0.05,
                 return_when=FIRST_EXCEPTION)
            results: dict[str, FetchResult] = {}
            for key, future in jobs.items():
                if future.done() and not future.cancelled() and future.exception() is None:
                    results[key] = future.result()
                else:
                    future.cancel()
                    results[key] = FetchResult(key, reason="time budget exhausted")
            return results
        finally:
            if own_pool is not None:
                own_pool.shutdown(wait=False, cancel_futures=True)

    def read(self, reference: str, *, deadline: float) -> dict | None:
        """Read one 'Type/id' resource (to resolve a reference); None when it cannot be read."""
        try:
            _, body = self._get_json(f"{self.base_url}/{reference}", deadline=deadline)
        except FhirFetchError as exc:
            log.info(json.dumps({"event": "fhir_read_failed", "reference_type": reference.split("/")[0],
                                 "reason": str(exc)}))
            return None
        return body
