"""forged_tile: the tampered record under the target's genuine id and the genuine signed tree, and the level-0
hash tile holding that id forged to hash the tampered record. Only a client that leaves that tile
unauthenticated against its parent accepts it (see TREE_SIZE: the DB is filled so that the tile proving the
record is not one of those proving the tree)."""
from .. import sumdb

from . import HEIGHT, OCTETS, TEXT

ORDER = 50
SUMMARY = "the tampered record under the target's id and the genuine signed tree, and its level-0 tile forged to match"
PRIME = False
KEY = False


def serve(ctx, rest):
    rid, _, note = ctx.genuine_lookup()
    if ctx.is_target_lookup(rest):
        return 200, TEXT, sumdb.format_record(rid, ctx.lines) + note
    tile = sumdb.Tile(HEIGHT, 0, rid >> HEIGHT, 1 << HEIGHT)
    try:
        asked = sumdb.parse_tile_path(rest)
    except ValueError:
        return None
    if asked.H == HEIGHT and asked.L == 0 and asked.N == tile.N:
        status, ctype, data = ctx.forward(rest)
        if status != 200:
            return status, ctype, data
        at = (rid - (tile.N << HEIGHT)) * sumdb.HASH_SIZE
        if at + sumdb.HASH_SIZE > len(data):
            return status, ctype, data
        return 200, OCTETS, data[:at] + sumdb.record_hash(ctx.lines) + data[at + sumdb.HASH_SIZE:]
    return None
