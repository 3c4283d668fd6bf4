"""empty_lookup: the target's lookup answered 200 with an empty body."""
from . import TEXT

ORDER = 10
SUMMARY = "the target's lookup: 200 with an empty body"
PRIME = False
KEY = False


def serve(ctx, rest):
    if ctx.is_target_lookup(rest):
        return 200, TEXT, b""
    return None
