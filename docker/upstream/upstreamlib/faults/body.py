"""body: answer with a given body."""
import base64

from . import ANSWER, TEXT_PLAIN, Key

ORDER = 90
KIND = ANSWER
SUMMARY = "answer with this body (`text` or `base64`, exactly one), status `code` (default 200)"
KEYS = {
    "text": Key("str", "the body as text (UTF-8)"),
    "base64": Key("str", "the body as base64"),
    "content_type": Key("str", "Content-Type (default: text/plain for text, application/octet-stream for base64)"),
    "code": Key("code", "the status code (default 200)"),
    "headers": Key("headers", "more response headers"),
}


def check(step):
    if ("text" in step) == ("base64" in step):
        raise ValueError("action 'body' needs exactly one of 'text' and 'base64'")
    if "base64" in step:
        try:
            base64.b64decode(step["base64"], validate=True)
        except ValueError as e:
            raise ValueError("bad base64: %s" % e) from None


def serve(ex, step, rest):
    if "base64" in step:
        data = base64.b64decode(step["base64"])
    else:
        data = step["text"].encode("utf-8")
    headers = dict(step.get("headers") or {})
    headers["Content-Type"] = step.get("content_type", "application/octet-stream" if "base64" in step else TEXT_PLAIN)
    return ex.response(step.get("code", 200), headers, data)
