"""reset: no answer, a TCP RST."""
from . import DROP

ORDER = 40
KIND = DROP
SUMMARY = "no answer, close with SO_LINGER 0: the client gets a TCP RST"


def serve(ex, step, rest):
    return ex.drop(reset=True)
