"""redirect: send the client elsewhere."""
from . import ANSWER, Key

ORDER = 80
KIND = ANSWER
SUMMARY = "answer with a redirect to `location` (status `code`, default 302)"
KEYS = {
    "location": Key("str", "the Location header", required=True),
    "code": Key("code", "a 3xx status (default 302)"),
}


def check(step):
    if not 300 <= step.get("code", 302) <= 399:
        raise ValueError("redirect code must be 3xx")


def serve(ex, step, rest):
    loc = step["location"]
    return ex.response(step.get("code", 302), {"Location": loc, "Content-Type": "text/html; charset=utf-8"},
                       '<a href="%s">Found</a>.\n' % loc)
