"""The policy enforcer: default rules, a deployment's overrides, and `authorize`.

Every service that OpenStack enforces policy in holds an `Enforcer` and asks it
before acting: the api service for compute rules, the image, network, volume and
identity services for theirs. A caller on the bus therefore gets the same answer as
one on the HTTP route. ``[policy] file`` names a YAML or TOML file of overrides,
``rule name: check string`` as oslo.policy reads them; a rule it does not name keeps
its default. The file is read once, when the service starts, and a rule that does not
parse, or names an unknown rule, stops the service with the file and rule named.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from nova_lite.context import RequestContext
from nova_lite.exceptions import PolicyError, PolicyNotAuthorized
from nova_lite.policy import defaults
from nova_lite.policy.rules import Check, parse, rule_names

__all__ = ["Enforcer", "credentials", "load_rules_file"]


# Keystone's implied roles: each role implies the ones after it.
_IMPLIED = ("admin", "member", "reader")


def credentials(ctx: RequestContext) -> dict[str, Any]:
    """What the rules may check about the caller: its roles with those they imply."""
    roles = list(ctx.roles)
    if ctx.is_admin and "admin" not in roles:
        roles.append("admin")  # a service's own elevated context
    held = [_IMPLIED.index(r) for r in roles if r in _IMPLIED]
    if held:
        roles.extend(r for r in _IMPLIED[min(held) :] if r not in roles)
    return {
        "roles": roles,
        "project_id": ctx.project_id,
        "user_id": ctx.user_id,
        "is_admin": ctx.is_admin,
    }


def load_rules_file(path: str | Path) -> dict[str, str]:
    """The ``name: check string`` overrides in a YAML or TOML policy file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"Policy file {file} cannot be read: {exc.strerror}.") from None
    data: Any
    try:
        if file.suffix in (".yaml", ".yml", ".json"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except Exception as exc:
        raise PolicyError(f"Policy file {file} is not valid: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise PolicyError(f"Policy file {file} must map rule names to check strings.")
    return dict(data)


class Enforcer:
    """The rules in force (defaults, then overrides), and the checks against them."""

    def __init__(
        self,
        overrides: Mapping[str, str] | None = None,
        *,
        rules: Iterable[defaults.RuleDefault] = defaults.DEFAULTS,
        source: str = "overrides",
    ) -> None:
        self.defaults = {rule.name: rule for rule in rules}
        texts = {name: rule.check_str for name, rule in self.defaults.items()}
        for name, text in (overrides or {}).items():
            if name not in texts:
                raise PolicyError(f"{source}: {name!r} is not a policy rule nova_lite knows.")
            texts[name] = text
        self.texts = texts
        self.rules: dict[str, Check] = {}
        for name, text in texts.items():
            try:
                self.rules[name] = parse(text)
            except PolicyError as exc:
                raise PolicyError(f"{source}: rule {name!r}: {exc}") from None
        for name, check in self.rules.items():
            unknown = [ref for ref in rule_names(check) if ref not in self.rules]
            if unknown:
                raise PolicyError(f"{source}: rule {name!r} refers to unknown rule {unknown[0]!r}.")

    @classmethod
    def from_file(cls, path: str | Path | None) -> Enforcer:
        """The defaults with the overrides in the policy file at `path` (none: defaults)."""
        if not path:
            return cls()
        return cls(load_rules_file(path), source=f"policy file {path}")

    def __repr__(self) -> str:
        changed = sum(self.texts[n] != r.check_str for n, r in self.defaults.items())
        return f"<Enforcer {len(self.rules)} rules, {changed} overridden>"

    def _rule(self, name: str) -> Check:
        try:
            return self.rules[name]
        except KeyError:
            raise PolicyError(f"{name!r} is not a policy rule nova_lite knows.") from None

    def check(
        self,
        ctx: RequestContext,
        rule: str,
        target: Mapping[str, Any] | None = None,
        *,
        creds: Mapping[str, Any] | None = None,
    ) -> bool:
        """Whether `rule` lets the caller act on `target` (default: its own project).

        `creds` adds what the context cannot carry about the caller's token (the
        identity service knows a token's domain and scope: ``system_scope``,
        ``domain_id``, ``token.project.domain.id``).
        """
        facts = {"project_id": ctx.project_id, "user_id": ctx.user_id}
        if target is not None:
            facts = {**facts, **target}
        return self._rule(rule)(facts, {**credentials(ctx), **(creds or {})}, self._rule)

    def authorize(
        self,
        ctx: RequestContext,
        rule: str,
        target: Mapping[str, Any] | None = None,
        *,
        creds: Mapping[str, Any] | None = None,
    ) -> None:
        """Raise `PolicyNotAuthorized` (403) unless `rule` lets the caller act on `target`."""
        if not self.check(ctx, rule, target, creds=creds):
            raise PolicyNotAuthorized(f"Policy doesn't allow {rule} to be performed.", rule=rule)
