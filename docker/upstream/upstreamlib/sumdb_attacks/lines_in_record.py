"""lines_in_record: the target's genuine lookup answer with the tampered zip's go.sum line first in the record
text (the record hash no longer matches the tree)."""
from .. import sumdb

from . import TEXT

ORDER = 40
SUMMARY = "the target's lookup: the tampered zip's go.sum line added first inside the genuine record text"
PRIME = False
KEY = False


def serve(ctx, rest):
    if ctx.is_target_lookup(rest):
        rid, text, note = ctx.genuine_lookup()
        zip_line = ctx.lines.split(b"\n")[0] + b"\n"
        return 200, TEXT, sumdb.format_record(rid, zip_line + text) + note
    return None
