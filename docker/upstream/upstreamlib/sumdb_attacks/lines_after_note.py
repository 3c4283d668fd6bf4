"""lines_after_note: the target's genuine lookup answer, then the tampered zip's go.sum lines after the signed
tree note (outside everything the record hash and the signature cover)."""
from . import TEXT

ORDER = 30
SUMMARY = "the target's lookup: its genuine answer, then the tampered zip's go.sum lines after the signed note"
PRIME = False
KEY = False


def serve(ctx, rest):
    if ctx.is_target_lookup(rest):
        status, ctype, body = ctx.forward(rest)
        return (status, ctype or TEXT, body + ctx.lines) if status == 200 else (status, ctype, body)
    return None
