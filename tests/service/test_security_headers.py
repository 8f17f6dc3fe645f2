"""security._headers (constant pairs straight into werkzeug's list) gives the headers, in the same
order, that the general form (`response.mimetype`, `Headers.add` per header) gives."""
from __future__ import annotations

from flask import Response
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service import security


def _headers_general(response):
    """The general form `security._headers` replaces: `response.mimetype`, `Headers.add` per header."""
    h = response.headers
    present = {name.lower() for name, _ in h}
    for name, value in security._HTML if response.mimetype == "text/html" else security._API:
        if name.lower() not in present:
            h.add(name, value)
    return response

names = st.sampled_from(["Content-Type", "content-type", "X-Frame-Options", "x-frame-options",
                         "Cache-Control", "Content-Security-Policy", "Referrer-Policy", "X-Custom",
                         "Cross-Origin-Resource-Policy", "X-Content-Type-Options", "Allow"])
content_types = st.sampled_from(["text/html", "text/html; charset=utf-8", " text/html ;x=1", "TEXT/HTML",
                                 "application/json", "text/plain", ""])
values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)


@settings(max_examples=500, deadline=None)
@given(content_type=st.one_of(st.none(), content_types),
       headers=st.lists(st.tuples(names, st.one_of(values, content_types)), max_size=6))
def test_headers_match_the_general_form(content_type, headers):
    def make():
        resp = Response(b"x")
        del resp.headers["Content-Type"]
        if content_type is not None:
            resp.headers.add("Content-Type", content_type)
        for name, value in headers:
            resp.headers.add(name, value)
        return resp

    fast, general = security._headers(make()), _headers_general(make())
    assert list(fast.headers) == list(general.headers)
    assert fast.headers.to_wsgi_list() == general.headers.to_wsgi_list()


def test_a_json_response_gets_the_api_headers_in_order(make_client):
    client = make_client()
    resp = client.get("/cds-services")
    got = [(k, v) for k, v in resp.headers if k in dict(security._API)]
    assert got == list(security._API)
