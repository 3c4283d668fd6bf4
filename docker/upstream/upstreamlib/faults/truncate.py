"""truncate: the role's answer, cut short."""
from . import ANSWER, Key

ORDER = 70
KIND = ANSWER
SUMMARY = "answer normally with the full headers (true Content-Length), send only the first `bytes` body bytes, close"
KEYS = {"bytes": Key("int", "body bytes sent before the close", required=True, minimum=0)}


def serve(ex, step, rest):
    ex.limit = step["bytes"]
    return ex.answer()
