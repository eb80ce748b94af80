"""Policy rules: oslo.policy's rule language, parsed into small check objects.

The subset served is what OpenStack's default policies use::

    role:admin                      the caller holds the role
    project_id:%(project_id)s       a credential equals a value of the target
    'public':%(visibility)s         a literal equals a value of the target
    rule:admin_or_owner             another named rule
    @  (or the empty rule)          always; ``!``: never
    not A, A and B, A or B, ( ... ) ``not`` binds tighter than ``and``, ``and``
                                    tighter than ``or``, as in oslo.policy

A check reads the caller's credentials (``roles``, ``project_id``, ``user_id``,
``is_admin``) and the target (what is acted on: its ``project_id``, ...). A
substitution the target does not hold makes the check false, never an error, as in
oslo.policy. `parse` raises `PolicyError` naming the rule text and what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import attrs

from nova_lite.exceptions import PolicyError

__all__ = ["Check", "parse", "rule_names"]

Lookup = Callable[[str], "Check"]
_SUBSTITUTION = re.compile(r"%\((?P<key>[A-Za-z0-9_.:]+)\)s")


class Check(Protocol):
    """One node of a parsed rule: true or false for a target and credentials."""

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], rules: Lookup) -> bool:
        """Whether the check passes."""


@attrs.frozen
class Always:
    """``@`` or the empty rule: every caller."""

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], rules: Lookup) -> bool:
        return True

    def __str__(self) -> str:
        return "@"


@attrs.frozen
class Never:
    """``!``: no caller."""

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], rules: Lookup) -> bool:
        return False

    def __str__(self) -> str:
        return "!"


@attrs.frozen
class RuleCheck:
    """``rule:NAME``: the named rule passes."""

    name: str

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], rules: Lookup) -> bool:
        return rules(self.name)(target, creds, rules)

    def __str__(self) -> str:
        return f"rule:{self.name}"


@attrs.frozen
class RoleCheck:
    """``role:NAME``: the caller holds the role (compared without letter case)."""

    role: str

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], rules: Lookup) -> bool:
        wanted = _substitute(self.role, target)
        held = {str(r).lower() for r in creds.get("roles", ())}
        return wanted is not None and wanted.lower() in held

    def __str__(self) -> str:
        return f"role:{self.role}"


@attrs.frozen
class GenericCheck:
    """``KEY:VALUE``: a credential (or a quoted literal) equals a target value or literal."""

    key: str
    value: str

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], rules: Lookup) -> bool:
        right = _substitute(self.value, target)
        if right is None:
            return False
        if self.key[:1] in "'\"":
            return self.key[1:-1] == right
        if self.key not in creds or creds[self.key] is None:
            return False
        return _text(creds[self.key]) == right

    def __str__(self) -> str:
        return f"{self.key}:{self.value}"


@attrs.frozen
class Not:
    """``not A``."""

    check: Check

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], rules: Lookup) -> bool:
        return not self.check(target, creds, rules)

    def __str__(self) -> str:
        return f"not {self.check}"


@attrs.frozen
class And:
    """``A and B and ...``."""

    checks: tuple[Check, ...]

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], rules: Lookup) -> bool:
        return all(check(target, creds, rules) for check in self.checks)

    def __str__(self) -> str:
        return "(" + " and ".join(map(str, self.checks)) + ")"


@attrs.frozen
class Or:
    """``A or B or ...``."""

    checks: tuple[Check, ...]

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], rules: Lookup) -> bool:
        return any(check(target, creds, rules) for check in self.checks)

    def __str__(self) -> str:
        return "(" + " or ".join(map(str, self.checks)) + ")"


def _text(value: Any) -> str:
    return str(value)


def _substitute(text: str, target: Mapping[str, Any]) -> str | None:
    """`text` with every ``%(key)s`` replaced from `target`; None if a key is missing."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        key = match["key"]
        if key not in target or target[key] is None:
            missing = True
            return ""
        return _text(target[key])

    result = _SUBSTITUTION.sub(value, text)
    if missing:
        return None
    if len(result) >= 2 and result[0] == result[-1] and result[0] in "'\"":
        return result[1:-1]
    return result


def _tokens(text: str) -> list[str]:
    """Words split on whitespace, with their leading ``(`` and trailing ``)`` apart
    (as oslo.policy splits them: ``%(project_id)s`` keeps its own parentheses)."""
    tokens: list[str] = []
    for word in text.split():
        stripped = word.lstrip("(")
        tokens.extend("(" * (len(word) - len(stripped)))
        core = stripped.rstrip(")")
        if core.count("(") > core.count(")"):  # a substitution's own ")" at the end
            core = stripped[: len(core) + 1]
        closing = len(stripped) - len(core)
        if core:
            tokens.append(core)
        tokens.extend(")" * closing)
    return tokens


class _Parser:
    """Recursive descent over the tokens of one rule: or > and > not > atom."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.position = 0

    def error(self, what: str) -> PolicyError:
        return PolicyError(f"Policy rule {self.text!r}: {what}.")

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise self.error("it ends where a check was expected")
        self.position += 1
        return token

    def parse(self) -> Check:
        if not self.tokens:
            return Always()
        check = self.disjunction()
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()!r}")
        return check

    def disjunction(self) -> Check:
        checks = [self.conjunction()]
        while self.peek() == "or":
            self.take()
            checks.append(self.conjunction())
        return checks[0] if len(checks) == 1 else Or(tuple(checks))

    def conjunction(self) -> Check:
        checks = [self.negation()]
        while self.peek() == "and":
            self.take()
            checks.append(self.negation())
        return checks[0] if len(checks) == 1 else And(tuple(checks))

    def negation(self) -> Check:
        if self.peek() == "not":
            self.take()
            return Not(self.negation())
        return self.atom()

    def atom(self) -> Check:
        token = self.take()
        if token == "(":
            check = self.disjunction()
            if self.take() != ")":
                raise self.error("a '(' is not closed")
            return check
        if token in (")", "and", "or"):
            raise self.error(f"unexpected {token!r}")
        return self.leaf(token)

    def leaf(self, token: str) -> Check:
        if token == "@":
            return Always()
        if token == "!":
            return Never()
        key, sep, value = token.partition(":")
        if not sep or not key or not value:
            raise self.error(f"{token!r} is not a check (KIND:VALUE, @ or !)")
        if key == "rule":
            return RuleCheck(value)
        if key == "role":
            return RoleCheck(value)
        return GenericCheck(key, value)


def parse(text: str) -> Check:
    """The check `text` spells; `PolicyError` if it is not a rule."""
    if not isinstance(text, str):
        raise PolicyError(f"A policy rule must be a string, not {text!r}.")
    return _Parser(text).parse()


def rule_names(check: Check) -> Iterator[str]:
    """The names every ``rule:`` inside `check` refers to."""
    if isinstance(check, RuleCheck):
        yield check.name
    elif isinstance(check, Not):
        yield from rule_names(check.check)
    elif isinstance(check, And | Or):
        for inner in check.checks:
            yield from rule_names(inner)
