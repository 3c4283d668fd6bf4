"""trickle: a slow body after prompt headers."""
from . import SHAPE, Key

ORDER = 120
KIND = SHAPE
SUMMARY = "answer normally (or as the chain says), sending the body `bytes` at a time, one piece per `interval`"
KEYS = {
    "bytes": Key("int", "bytes per piece", required=True, minimum=1),
    "interval": Key("number", "seconds between pieces", required=True, minimum=0),
}


def serve(ex, step, rest):
    ex.trickle = (step["bytes"], step["interval"])
    return rest()
