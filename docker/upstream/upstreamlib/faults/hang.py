"""hang: read the request, never answer."""
from . import DROP

ORDER = 30
KIND = DROP
SUMMARY = "read the request, never answer; the socket stays open until the client closes it or the server stops"


def serve(ex, step, rest):
    return ex.hang()
