"""Fault rules: the actions, their keys and their checks, shared by the server (httpfault.py) and the
host (a scenario's typo fails at the call)."""

import base64
import re

ACTIONS = ("status", "delay", "hang", "reset", "close", "html", "truncate",
           "redirect", "body", "hold", "headers", "trickle")

# Accepted keys per action, beyond the common ones.
_COMMON_KEYS = {"path", "method", "action", "times", "comment"}
_ACTION_KEYS = {
    "status": {"code", "body", "headers"},
    "delay": {"seconds"},
    "hang": set(),
    "reset": set(),
    "close": set(),
    "html": set(),
    "truncate": {"bytes"},
    "redirect": {"location", "code"},
    "body": {"text", "base64", "content_type", "code", "headers"},
    "hold": {"name"},
    "headers": {"headers"},
    "trickle": {"bytes", "interval"},
}


class Rule:
    __slots__ = ("index", "spec", "action", "path_re", "method", "times", "used")

    def __init__(self, index, spec):
        self.index = index
        self.spec = spec
        self.action = spec["action"]
        self.path_re = re.compile(spec.get("path", ""))
        self.method = spec.get("method")
        self.method = self.method.upper() if self.method else None
        self.times = spec.get("times")
        self.used = 0

    def get(self, key, default=None):
        return self.spec.get(key, default)


def _validate_rule(i, spec):
    """Return a Rule or raise ValueError with a readable reason."""
    where = "rule %d" % i
    if not isinstance(spec, dict):
        raise ValueError("%s: not a JSON object" % where)
    action = spec.get("action")
    if action not in ACTIONS:
        raise ValueError("%s: unknown action %r (want one of %s)" % (where, action, ", ".join(ACTIONS)))
    unknown = set(spec) - _COMMON_KEYS - _ACTION_KEYS[action]
    if unknown:
        raise ValueError("%s: unknown keys for action %r: %s" % (where, action, ", ".join(sorted(unknown))))

    def typed(key, types, required=False):
        if key not in spec:
            if required:
                raise ValueError("%s: action %r needs %r" % (where, action, key))
            return
        v = spec[key]
        if isinstance(v, bool) or not isinstance(v, types):
            raise ValueError("%s: %r has the wrong type" % (where, key))

    typed("path", str)
    typed("method", str)
    typed("times", int)
    if spec.get("times", 0) < 0:
        raise ValueError("%s: times must be >= 0" % where)
    try:
        re.compile(spec.get("path", ""))
    except re.error as e:
        raise ValueError("%s: bad path regex: %s" % (where, e)) from None
    if action == "status":
        typed("code", int, required=True)
        typed("body", str)
        typed("headers", dict)
    elif action == "delay":
        typed("seconds", (int, float), required=True)
        if spec["seconds"] < 0:
            raise ValueError("%s: seconds must be >= 0" % where)
    elif action == "truncate":
        typed("bytes", int, required=True)
        if spec["bytes"] < 0:
            raise ValueError("%s: bytes must be >= 0" % where)
    elif action == "redirect":
        typed("location", str, required=True)
        typed("code", int)
        if not 300 <= spec.get("code", 302) <= 399:
            raise ValueError("%s: redirect code must be 3xx" % where)
    elif action == "body":
        typed("text", str)
        typed("base64", str)
        typed("content_type", str)
        typed("code", int)
        typed("headers", dict)
        if ("text" in spec) == ("base64" in spec):
            raise ValueError("%s: action 'body' needs exactly one of 'text' and 'base64'" % where)
        if "base64" in spec:
            try:
                base64.b64decode(spec["base64"], validate=True)
            except ValueError as e:
                raise ValueError("%s: bad base64: %s" % (where, e)) from None
    elif action == "headers":
        typed("headers", dict, required=True)
    elif action == "trickle":
        typed("bytes", int, required=True)
        typed("interval", (int, float), required=True)
        if spec["bytes"] < 1 or spec["interval"] < 0:
            raise ValueError("%s: trickle needs bytes >= 1 and interval >= 0" % where)
    elif action == "hold":
        typed("name", str, required=True)
        if not re.fullmatch(r"[A-Za-z0-9._-]+", spec["name"]) or spec["name"] in (".", ".."):
            raise ValueError("%s: hold name must be a plain file name" % where)
    for key in ("code",):
        if key in spec and not 100 <= spec[key] <= 599:
            raise ValueError("%s: code must be 100..599" % where)
    for key in ("headers",):
        if key in spec and not all(isinstance(v, str) for v in spec[key].values()):
            raise ValueError("%s: header values must be strings" % where)
    return Rule(i, spec)


