"""delay: wait, then go on (the role's answer, or the rest of the chain)."""
from . import WAIT, Key

ORDER = 20
KIND = WAIT
SUMMARY = "wait `seconds`, then answer normally (or go on along the chain)"
KEYS = {"seconds": Key("number", "how long to wait", required=True, minimum=0)}


def serve(ex, step, rest):
    if ex.wait(step["seconds"]):
        return ex.drop()
    return rest()
