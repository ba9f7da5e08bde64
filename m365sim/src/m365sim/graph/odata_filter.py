"""OData $filter: the parser (`FilterParser`, a tree of `Node`, `Prop` and `Lit`), the evaluator
against one object, and the properties a filter uses (graph-facts §1.5)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from m365sim.errors import GraphError, bad_request

MAX_IN = 15

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"|(?P<num>-?\d+(?:\.\d+)?(?![\w-]))|(?P<punc>[(),:])|(?P<word>[A-Za-z_$@][\w$@./-]*))"
)


@dataclass
class Node:
    op: str  # eq ne gt ge lt le in and or not startswith endswith any all count
    args: list[Any] = field(default_factory=list)


@dataclass
class Prop:
    path: str  # "displayName", "x/skuId", "proxyAddresses"


@dataclass
class Lit:
    value: Any


class FilterParser:
    COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}

    def __init__(self, text: str, resource: str) -> None:
        self.text = text
        self.resource = resource
        self.toks: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise self.syntax()
            kind = m.lastgroup or ""
            self.toks.append((kind, m.group(kind)))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0
        self.advanced_ops: list[str] = []
        self.in_count = 0

    def syntax(self) -> GraphError:
        return bad_request(
            f"Invalid filter clause: Syntax error at position {len(self.text)} in '{self.text}'."
        )

    def peek(self, n: int = 0) -> tuple[str, str] | None:
        return self.toks[self.i + n] if self.i + n < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        t = self.peek()
        if t is None or (value is not None and t[1].lower() != value):
            raise self.syntax()
        self.i += 1
        return t

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek() is not None:
            raise self.syntax()
        return node

    def or_expr(self) -> Node:
        left = self.and_expr()
        while (t := self.peek()) and t[0] == "word" and t[1].lower() == "or":
            self.i += 1
            left = Node("or", [left, self.and_expr()])
        return left

    def and_expr(self) -> Node:
        left = self.unary()
        while (t := self.peek()) and t[0] == "word" and t[1].lower() == "and":
            self.i += 1
            left = Node("and", [left, self.unary()])
        return left

    def unary(self) -> Node:
        t = self.peek()
        if t and t[0] == "word" and t[1].lower() == "not":
            self.i += 1
            self.advanced_ops.append("not")
            return Node("not", [self.unary()])
        if t and t[1] == "(":
            self.i += 1
            node = self.or_expr()
            self.take(")")
            return node
        return self.comparison()

    def operand(self) -> Prop | Lit:
        kind, val = self.take()
        if kind == "str":
            return Lit(val[1:-1].replace("''", "'"))
        if kind == "guid":
            return Lit(val.lower())
        if kind == "num":
            return Lit(float(val) if "." in val else int(val))
        if kind == "word":
            low = val.lower()
            if low in ("true", "false"):
                return Lit(low == "true")
            if low == "null":
                return Lit(None)
            return Prop(val)
        raise self.syntax()

    def comparison(self) -> Node:
        t = self.peek()
        if (
            t
            and t[0] == "word"
            and t[1].lower() in ("startswith", "endswith")
            and (self.peek(1) or ("", ""))[1] == "("
        ):
            fn = t[1].lower()
            self.i += 2
            prop = self.operand()
            self.take(",")
            lit = self.operand()
            self.take(")")
            if fn == "endswith":
                self.advanced_ops.append("endsWith")
            return Node(fn, [prop, lit])
        left = self.operand()
        if isinstance(left, Prop) and "/" in left.path:
            head, _, tail = left.path.partition("/")
            if tail.lower() in ("any", "all") and (self.peek() or ("", ""))[1] == "(":
                self.take("(")
                var = self.take()[1]
                self.take(":")
                body = self.or_expr()
                self.take(")")
                return Node(tail.lower(), [Prop(head), var, body])
            if tail == "$count":
                self.advanced_ops.append("$count")
        _kind, op = self.take()
        op = op.lower()
        if op == "in":
            self.take("(")
            values: list[Any] = []
            while True:
                v = self.operand()
                if not isinstance(v, Lit):
                    raise self.syntax()
                values.append(v.value)
                if self.take()[1] == ")":
                    break
            self.in_count += len(values)
            return Node("in", [left, Lit(values)])
        if op not in self.COMPARE:
            raise self.syntax()
        right = self.operand()
        if op == "ne":
            self.advanced_ops.append("ne")
        if op in ("gt", "ge", "lt", "le") and isinstance(left, Prop) and left.path.endswith("$count"):
            pass
        return Node(op, [left, right])


def _norm(v: Any) -> Any:
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v.lower() if isinstance(v, str) else v


def _get(obj: Any, path: str, env: dict[str, Any]) -> Any:
    parts = path.split("/")
    if parts[0] in env:
        cur = env[parts[0]]
        parts = parts[1:]
    else:
        cur = obj
    for p in parts:
        if p == "$count":
            return len(cur or [])
        cur = cur.get(p) if isinstance(cur, dict) else None
    return cur


def evaluate(node: Node, obj: dict[str, Any], env: dict[str, Any] | None = None) -> bool:
    env = env or {}
    op = node.op
    if op == "and":
        return evaluate(node.args[0], obj, env) and evaluate(node.args[1], obj, env)
    if op == "or":
        return evaluate(node.args[0], obj, env) or evaluate(node.args[1], obj, env)
    if op == "not":
        return not evaluate(node.args[0], obj, env)
    if op in ("any", "all"):
        coll = _get(obj, node.args[0].path, env) or []
        var, body = node.args[1], node.args[2]
        test = (evaluate(body, obj, {**env, var: item}) for item in coll)
        return any(test) if op == "any" else all(test)

    def val(x: Prop | Lit) -> Any:
        return _norm(_get(obj, x.path, env)) if isinstance(x, Prop) else _norm(x.value)

    a, b = val(node.args[0]), val(node.args[1])
    if op == "eq":
        return a == b
    if op == "ne":
        return a != b
    if op == "in":
        return a in b
    if op == "startswith":
        return isinstance(a, str) and a.startswith(b)
    if op == "endswith":
        return isinstance(a, str) and a.endswith(b)
    if a is None or b is None:
        return False
    try:
        return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
    except TypeError:
        return False


def props_used(
    node: Node, acc: list[tuple[str, str]] | None = None, env: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """(property, operator) pairs, for the 'unsupported property' check."""
    acc = [] if acc is None else acc
    if node.op in ("and", "or", "not"):
        for a in node.args:
            props_used(a, acc, env)
    elif node.op in ("any", "all"):
        acc.append((node.args[0].path, node.op))
        props_used(node.args[2], [], (*env, node.args[1]))
    else:
        for a in node.args:
            if isinstance(a, Prop) and a.path.split("/")[0] not in env:
                acc.append((a.path, node.op))
    return acc
