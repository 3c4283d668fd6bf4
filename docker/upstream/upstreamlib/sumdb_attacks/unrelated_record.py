"""unrelated_record: the target's lookup answered with the honest DB's answer for another module (the decoy):
a genuine record, a genuine signed tree, no line for the target."""
from . import lookup_path

ORDER = 20
SUMMARY = "the target's lookup: the DB's genuine answer for another module (no line for the target)"
PRIME = False
KEY = False


def serve(ctx, rest):
    if ctx.is_target_lookup(rest):
        return ctx.forward(lookup_path(ctx.decoy))
    return None
