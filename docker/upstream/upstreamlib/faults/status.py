"""status: answer with this status code (and a body and headers), whatever the role would say."""
import http.server

from . import ANSWER, TEXT_PLAIN, Key

ORDER = 10
KIND = ANSWER
SUMMARY = "answer with status `code` (body: the code's reason phrase unless given), Content-Type text/plain unless given"
KEYS = {
    "code": Key("code", "the status code", required=True),
    "body": Key("str", "the body (default: \"<code> <reason>\\n\")"),
    "headers": Key("headers", "response headers"),
}


def serve(ex, step, rest):
    code = step["code"]
    body = step.get("body")
    if body is None:
        body = "%d %s\n" % (code, http.server.BaseHTTPRequestHandler.responses.get(code, ("",))[0])
    headers = dict(step.get("headers") or {})
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = TEXT_PLAIN
    return ex.response(code, headers, body)
