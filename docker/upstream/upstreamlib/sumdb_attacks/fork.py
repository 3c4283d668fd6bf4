"""fork: from the target's lookup on, a second tree signed with the DB's key, of the same size, whose target
record is the tampered one: lookups and tiles come from it. The client holds the honest tree from before (PRIME),
which the forked tree does not contain."""
from .. import sumdb

from . import TEXT

ORDER = 60
SUMMARY = "from the target's lookup on, a forked tree signed with the DB's key (the target's record tampered), lookups and tiles from it"
PRIME = True
KEY = True


def serve(ctx, rest):
    if ctx.is_target_lookup(rest):
        rid, _, _ = ctx.genuine_lookup()
        forked = ctx.state.get("forked")
        if forked is None:
            forked = ctx.state["forked"] = ctx.mirror()
            forked.rewrite(rid, ctx.lines)
        return 200, TEXT, sumdb.format_record(rid, forked.record(rid)) + forked.signed()
    if "forked" in ctx.state and rest.startswith("tile/"):
        status, ctype, body = ctx.state["forked"].handle("/" + rest)
        return status, ctype, body
    return None
