"""headers: add response headers to whatever is answered."""
from . import SHAPE, Key

ORDER = 110
KIND = SHAPE
SUMMARY = "answer normally (or as the chain says) with these response headers added, replacing any of the same name"
KEYS = {"headers": Key("headers", "the headers, e.g. Cache-Control, Last-Modified, Content-Type", required=True)}


def serve(ex, step, rest):
    resp = rest()
    if resp is not None:
        names = {k.lower() for k in step["headers"]}
        resp.headers = [(k, v) for k, v in resp.headers if k.lower() not in names]
        resp.headers += list(step["headers"].items())
    return resp
