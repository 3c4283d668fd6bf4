"""Fault rules as data: the registry of actions, the rule checks, and the chain a rule runs.

Shared by the server (docker/upstream/httpfault.py, which only serves) and the host (a scenario's typo
fails at the call, never as a silent no-op or a 500 inside the container). Pure: stdlib only.

One module per action in this package: adding a fault is one new file here, nothing else (the registry
finds it; docs tables come from REGISTRY). A module defines
    ORDER    int: its place in REGISTRY (docs, error messages)
    KIND     WAIT or SHAPE (modifiers), ANSWER or DROP (terminal actions)
    SUMMARY  one line for docs
    KEYS     {name: Key(type, description, required, minimum)} in documentation order (none: no keys)
    check(step)           optional: raise ValueError(reason) for what types don't catch
    serve(ex, step, rest) what it does: ex is the request's Exchange (below), step its keys, rest() runs
                          the rest of the chain (at its end: the role's normal answer) and returns its
                          Response or None. Returns the Response to send, or None (nothing to send).

A rule (one JSON object; faults.json holds a list, first match wins):
    {"id": "f1", "path": regex, "method": "GET", "times": N, "comment": any,
     "action": name, <the action's keys>..., "then": [{"action": name, <keys>...}, ...]}
"id" names the rule in the request log and keys its "times" counter (the host numbers its rules f1, f2...;
without one, the server uses the rule's index). "then" chains more actions after the first: modifiers
(delay, hold: wait first; headers, trickle: shape the response) in any order, then at most one terminal
action, last (without one, the role answers normally). E.g. delay then truncate, headers then trickle.
"""

import importlib
import json
import pkgutil
import re

WAIT, SHAPE, ANSWER, DROP = "wait", "shape", "answer", "drop"
MODIFIERS, TERMINALS = (WAIT, SHAPE), (ANSWER, DROP)
TEXT_PLAIN = "text/plain; charset=utf-8"

# Keys of the rule itself (the first step shares its object with them), never of a step.
RULE_KEYS = ("id", "path", "method", "times", "comment", "then")


class Key:
    """One key of an action: its type (a name in TYPES), what it means, whether it is required, and for
    a number its least value."""

    __slots__ = ("type", "description", "required", "minimum")

    def __init__(self, type, description, required=False, minimum=None):
        if type not in TYPES:
            raise ValueError("unknown key type %r" % type)
        self.type, self.description, self.required, self.minimum = type, description, required, minimum


def _headers_ok(v):
    if not all(isinstance(x, str) for x in v.values()):
        return "header values must be strings"


def _code_ok(v):
    if not 100 <= v <= 599:
        return "code must be 100..599"


# type name -> (Python types, further check returning a reason or None)
TYPES = {
    "int": ((int,), None),
    "number": ((int, float), None),
    "str": ((str,), None),
    "headers": ((dict,), _headers_ok),
    "code": ((int,), _code_ok),
}


class Fault:
    """A registered action: name, summary, kind, keys {name: (required, description)}, and its module's
    check and serve."""

    def __init__(self, module):
        self.name = module.__name__.rpartition(".")[2]
        self.order, self.kind, self.summary = module.ORDER, module.KIND, module.SUMMARY
        if self.kind not in MODIFIERS + TERMINALS:
            raise ValueError("fault %s: unknown KIND %r" % (self.name, self.kind))
        self.key_specs = dict(getattr(module, "KEYS", {}))
        if set(self.key_specs) & set(RULE_KEYS + ("action",)):
            raise ValueError("fault %s: a key named like a rule key" % self.name)
        self.keys = {k: (spec.required, spec.description) for k, spec in self.key_specs.items()}
        self.check = getattr(module, "check", None)
        self.serve = module.serve

    @property
    def terminal(self):
        return self.kind in TERMINALS

    def __repr__(self):
        return "Fault(%r, %s)" % (self.name, self.kind)


def register(module):
    """Add an action module to REGISTRY (called for every module of this package at import)."""
    fault = Fault(module)
    clash = [f.name for f in REGISTRY.values() if f.order == fault.order]
    if clash:
        raise ValueError("faults %s and %s share ORDER %d" % (clash[0], fault.name, fault.order))
    REGISTRY[fault.name] = fault
    return fault


REGISTRY = {}
for _m in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    register(importlib.import_module("%s.%s" % (__name__, _m)))
REGISTRY = dict(sorted(REGISTRY.items(), key=lambda kv: kv[1].order))
ACTIONS = tuple(REGISTRY)


class Exchange:
    """What a fault's serve() sees of one request; the server passes an implementation in."""

    state_dir = None    # the server's state directory
    limit = None        # send only this many body bytes, then close (set by a fault)
    trickle = None      # (n, seconds): send the body n bytes per interval (set by a fault)

    def answer(self):
        """The role's normal answer: a Response (status, headers as a list of pairs, body bytes)."""
        raise NotImplementedError

    def response(self, status, headers, body):
        """A new Response (headers a dict or pairs, body str or bytes)."""
        raise NotImplementedError

    def wait(self, seconds):
        """Sleep; True when the server is stopping or the client has gone meanwhile (then give up: return drop())."""
        raise NotImplementedError

    def drop(self, reset=False):
        """Close without answering (reset: with a TCP RST); returns None, to return from serve()."""
        raise NotImplementedError

    def hang(self):
        """Answer nothing until the peer closes or the server stops; returns None."""
        raise NotImplementedError


class Rule:
    """A checked rule. steps: [(Fault, keys)], the first step's keys being the rule's own object."""

    __slots__ = ("index", "id", "spec", "action", "name", "steps", "path_re", "method", "times", "key")

    def __init__(self, spec, steps, index=0):
        self.index, self.spec, self.steps = index, spec, steps
        self.id = spec.get("id", index)
        self.action = spec["action"]
        self.name = "+".join(f.name for f, _ in steps)     # what the request log calls the fault
        self.path_re = re.compile(spec.get("path", ""))
        self.method = spec.get("method")
        self.method = self.method.upper() if self.method else None
        self.times = spec.get("times")
        # A rule keeps its "times" counter over reloads while its id and content stay the same.
        self.key = (self.id, json.dumps(spec, sort_keys=True))

    def get(self, key, default=None):
        return self.spec.get(key, default)

    def serve(self, ex):
        """Run the chain on ex: the Response to send, or None."""
        def step(i):
            if i == len(self.steps):
                return ex.answer()
            fault, keys = self.steps[i]
            return fault.serve(ex, keys, lambda: step(i + 1))
        return step(0)


def _check_step(where, step, allowed_extra):
    """Check one step's action and keys; return its Fault."""
    action = step.get("action")
    if action not in REGISTRY:
        raise ValueError("%s: unknown action %r (want one of %s)" % (where, action, ", ".join(ACTIONS)))
    fault = REGISTRY[action]
    unknown = set(step) - {"action", "comment"} - set(allowed_extra) - set(fault.key_specs)
    if unknown:
        hint = " (rule keys go on the rule, not on a step)" if unknown & set(RULE_KEYS) else ""
        raise ValueError("%s: unknown keys for action %r: %s%s" % (where, action, ", ".join(sorted(unknown)), hint))
    for k, spec in fault.key_specs.items():
        if k not in step:
            if spec.required:
                raise ValueError("%s: action %r needs %r" % (where, action, k))
            continue
        types, more = TYPES[spec.type]
        if isinstance(step[k], bool) or not isinstance(step[k], types):
            raise ValueError("%s: %r has the wrong type" % (where, k))
        reason = more and more(step[k])
        if spec.minimum is not None and step[k] < spec.minimum:
            reason = "%s must be >= %s" % (k, spec.minimum)
        if reason:
            raise ValueError("%s: %s" % (where, reason))
    if fault.check:
        try:
            fault.check(step)
        except ValueError as e:
            raise ValueError("%s: %s" % (where, e)) from None
    return fault


def _check_chain(where, faults):
    names = [f.name for f in faults]
    for i, f in enumerate(faults):
        if f.name in names[:i]:
            raise ValueError("%s: %r twice in one chain" % (where, f.name))
        if f.terminal and i < len(faults) - 1:
            after = faults[i + 1]
            if after.terminal:
                raise ValueError("%s: two terminal actions in one chain: %r and %r (a chain is modifiers (%s), "
                                 "then at most one terminal action)"
                                 % (where, f.name, after.name,
                                    ", ".join(n for n, g in REGISTRY.items() if not g.terminal)))
            raise ValueError("%s: %r ends the exchange, so it comes last (not before %r)" % (where, f.name, after.name))
    if faults[-1].kind == DROP:
        for f in faults:
            if f.kind == SHAPE:
                raise ValueError("%s: %r shapes a response, but %r sends none" % (where, f.name, faults[-1].name))


def validate_rule(spec, where="fault", index=0):
    """Return a Rule or raise ValueError with a readable reason, prefixed with where."""
    if not isinstance(spec, dict):
        raise ValueError("%s: not a JSON object" % where)
    for key, types in (("id", (str, int)), ("path", (str,)), ("method", (str,)), ("times", (int,))):
        if key in spec and (isinstance(spec[key], bool) or not isinstance(spec[key], types)):
            raise ValueError("%s: %r has the wrong type" % (where, key))
    if spec.get("times", 0) < 0:
        raise ValueError("%s: times must be >= 0" % where)
    try:
        re.compile(spec.get("path", ""))
    except re.error as e:
        raise ValueError("%s: bad path regex: %s" % (where, e)) from None
    then = spec.get("then", [])
    if not isinstance(then, list) or not all(isinstance(s, dict) for s in then):
        raise ValueError('%s: "then" must be a list of steps like {"action": "truncate", "bytes": 10}' % where)
    steps = [(_check_step(where, spec, RULE_KEYS), spec)]
    steps += [(_check_step("%s: then[%d]" % (where, i), s, ()), s) for i, s in enumerate(then)]
    _check_chain(where, [f for f, _ in steps])
    return Rule(spec, steps, index)


def validate_rules(data):
    """faults.json's content: a list of rules -> [Rule], or ValueError naming the bad rule."""
    if not isinstance(data, list):
        raise ValueError("faults.json must hold a JSON list of rules")
    rules = []
    for i, spec in enumerate(data):
        rid = spec.get("id") if isinstance(spec, dict) else None
        rule = validate_rule(spec, "rule %s" % (i if rid is None else rid), i)
        if any(r.id == rule.id for r in rules):
            raise ValueError("rule %s: two rules with this id" % rule.id)
        rules.append(rule)
    return rules


def _step(item):
    """A `then` item as a step object: "hang", ("truncate", {"bytes": 10}) or {"action": ...}."""
    if isinstance(item, str):
        return {"action": item}
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], dict):
        return {"action": item[0], **item[1]}
    if isinstance(item, dict):
        return dict(item)
    raise ValueError('a "then" step is "action", ("action", {key: value}) or {"action": ..., key: value}, '
                     'not %r' % (item,))


def make_rule(path, action, times=None, then=(), **keys):
    """The rule object for Python arguments (the host's Upstream.fault): then lists steps as "hang",
    ("truncate", {"bytes": 10}) or {"action": "truncate", "bytes": 10}."""
    rule = {"path": path, "action": action, **keys}
    if times is not None:
        rule["times"] = times
    if then:
        rule["then"] = [_step(s) for s in then]
    return rule


def parse_value(text):
    """A key's value as written in a script: JSON when it parses (404, 1.5, true, {"X": "y"}), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def rule_from_words(words):
    """The rule object for a script's words: `action key=value... [then action key=value...]...`.
    Rule keys (times=N, method=..., comment=...) may stand anywhere and belong to the rule. No path:
    the caller adds it. Values go through parse_value. ValueError for a malformed word."""
    rule, step = {}, None
    steps = []
    expect_action = True
    for w in words:
        if expect_action:
            if "=" in w or w == "then":
                raise ValueError("want an action name, not %r" % w)
            step = {"action": w}
            steps.append(step)
            expect_action = False
        elif w == "then":
            expect_action = True
        else:
            k, eq, v = w.partition("=")
            if not eq:
                raise ValueError("parameter %r: want key=value" % w)
            (rule if k in RULE_KEYS else step)[k] = parse_value(v)
    if expect_action:
        raise ValueError("want an action name" + (" after 'then'" if steps else ""))
    first, *then = steps
    rule = {**first, **rule}
    if then:
        rule["then"] = then
    return rule


def markdown_table():
    """The actions as a Markdown table, from the registry (for docs)."""
    rows = ["| action | kind | keys | what it does |", "|---|---|---|---|"]
    for f in REGISTRY.values():
        keys = ", ".join("`%s`%s%s" % (k, "" if spec.required else "?",
                                       "" if spec.minimum is None else " (>= %s)" % spec.minimum)
                         for k, spec in f.key_specs.items())
        rows.append("| `%s` | %s | %s | %s |" % (f.name, f.kind, keys or "-", f.summary))
    return "\n".join(rows)
