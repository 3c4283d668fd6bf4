"""close: no answer, an orderly close."""
from . import DROP

ORDER = 50
KIND = DROP
SUMMARY = "no answer, orderly close (FIN)"


def serve(ex, step, rest):
    return ex.drop()
