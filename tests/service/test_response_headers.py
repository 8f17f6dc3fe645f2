"""CdsResponse.get_wsgi_headers (the list copied when werkzeug would rewrite nothing) gives the
WSGI headers, status and body werkzeug's get_wsgi_headers gives (the general form: flask.Response)."""
from __future__ import annotations

from flask import Response
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.app import CdsResponse

names = st.sampled_from(["Content-Type", "X-Custom", "Location", "location", "Content-Location",
                         "Content-Length", "content-length", "Cache-Control", "ETag", "Allow"])
values = st.sampled_from(["/x", "http://h/é", "12", "0", "abc", "/a b", "text/html"])
statuses = st.sampled_from([100, 101, 199, 200, 201, 204, 206, 301, 302, 304, 400, 404, 412, 500])
ENVIRON = {"REQUEST_METHOD": "POST", "SERVER_NAME": "h", "SERVER_PORT": "80", "PATH_INFO": "/p",
           "SCRIPT_NAME": "", "QUERY_STRING": "", "HTTP_HOST": "h", "wsgi.url_scheme": "http"}


@settings(max_examples=600, deadline=None)
@given(status=statuses, body=st.one_of(st.binary(max_size=20), st.lists(st.binary(max_size=5), max_size=3)),
       headers=st.lists(st.tuples(names, values), max_size=5), drop_length=st.booleans())
def test_wsgi_headers_match_werkzeugs(status, body, headers, drop_length):
    def make(cls):
        resp = cls(body, status=status)
        if drop_length:
            resp.headers.remove("Content-Length")
        for name, value in headers:
            resp.headers.add(name, value)
        return resp

    fast, general = make(CdsResponse), make(Response)
    assert fast.get_wsgi_headers(dict(ENVIRON)).to_wsgi_list() == \
        general.get_wsgi_headers(dict(ENVIRON)).to_wsgi_list()
    f_iter, f_status, f_headers = fast.get_wsgi_response(dict(ENVIRON))
    g_iter, g_status, g_headers = general.get_wsgi_response(dict(ENVIRON))
    assert (f_status, f_headers, b"".join(f_iter)) == (g_status, g_headers, b"".join(g_iter))
    assert list(fast.headers) == list(general.headers)  # the response's own headers are untouched


def test_the_copy_is_a_separate_list():
    resp = CdsResponse(b"{}", mimetype="application/json")
    copy = resp.get_wsgi_headers(dict(ENVIRON))
    copy.add("X-Later", "1")
    assert "X-Later" not in resp.headers


def test_the_service_answers_with_it(make_client):
    client = make_client()
    assert client.application.response_class is CdsResponse
    assert client.get("/cds-services").status_code == 200
