"""corrupt_latest: fork's forked tree for a client that holds no tree yet: a signed tree head that is not the
log's, which go keeps as its latest (GOPATH/pkg/sumdb/<name>/latest) if it accepts it."""
from . import fork

ORDER = 70
SUMMARY = "fork's forked tree, to a client holding no tree head yet (what it keeps as latest is not the log's)"
PRIME = False
KEY = True
serve = fork.serve
