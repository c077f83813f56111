"""The one response/error type every layer answers with."""
from objstore.common.http import (HTTPError, Response, empty_response, error_response, header_dict,
                                  status_line)


def call(app, method="GET"):
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers
    body = b"".join(app({"REQUEST_METHOD": method}, start_response))
    return seen["status"], seen["headers"], body


def test_status_line_names_the_reason_and_swifts_499():
    assert status_line(404) == "404 Not Found"
    assert status_line(499) == "499 Client Disconnect"
    assert status_line(299) == "299 Unknown"


def test_response_sends_title_case_headers_and_a_length_for_bytes():
    status, headers, body = call(Response(200, {"x-object-meta-a": "1"}, b"hi"))
    assert (status, body) == ("200 OK", b"hi")
    assert headers == [("X-Object-Meta-A", "1"), ("Content-Length", "2")]


def test_header_dict_keeps_non_ascii_names_byte_for_byte():
    """A metadata name in raw UTF-8 (as latin-1) must reach the wire unchanged."""
    name = "X-Object-Meta-Caf\xc3\xa9"
    headers = header_dict([("ETag", "e"), (name, "v")])
    assert headers == {"etag": "e", name: "v"}
    assert call(Response(200, headers, []))[1] == [("Etag", "e"), (name, "v")]


def test_head_sends_no_body_and_closes_the_iterable():
    closed = []

    class Body(list):
        def close(self):
            closed.append(True)
    status, headers, body = call(Response(200, {"content-length": "3"}, Body([b"abc"])), "HEAD")
    assert (body, closed) == (b"", [True])


def test_error_response_says_why_or_the_reason_phrase():
    assert call(error_response(400, "bad"))[2] == b"bad\n"
    assert call(error_response(404))[2] == b"Not Found\n"
    assert call(error_response(412, "Bad URL", newline=False))[2] == b"Bad URL"
    assert ("Content-Type", "text/plain; charset=UTF-8") in call(error_response(400))[1]


def test_empty_response_has_swifts_html_type_and_no_body():
    status, headers, body = call(empty_response(201, {"etag": "x"}))
    assert (status, body) == ("201 Created", b"")
    assert headers == [("Content-Type", "text/html; charset=UTF-8"), ("Content-Length", "0"),
                       ("Etag", "x")]


def test_http_error_carries_the_response_it_stands_for():
    try:
        raise HTTPError(503, "No ring", {"retry-after": "1"})
    except HTTPError as err:
        assert err.status == 503
        assert call(err.response) == call(error_response(503, "No ring", {"retry-after": "1"}))
