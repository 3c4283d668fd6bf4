"""stale_latest: the tampered record under the target's genuine id, with a stale tree head: the honest log's tree
at the size just holding the record, signed with the DB's key, older than the one the client holds (PRIME)."""
from .. import sumdb

from . import TEXT

ORDER = 80
SUMMARY = "the tampered record with a stale signed tree head (the honest log at the size just holding it)"
PRIME = True
KEY = True


def serve(ctx, rest):
    if ctx.is_target_lookup(rest):
        rid, _, _ = ctx.genuine_lookup()
        return 200, TEXT, sumdb.format_record(rid, ctx.lines) + ctx.mirror().signed(rid + 1)
    return None
