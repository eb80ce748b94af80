"""One policy engine for every service: oslo.policy's rules, OpenStack's defaults.

`Enforcer` holds the rules in force (the upstream defaults in `defaults`, with a
deployment's ``[policy] file`` overrides) and answers `authorize(ctx, rule, target)`;
`rules` parses oslo.policy's rule language.
"""

from __future__ import annotations

from nova_lite.exceptions import PolicyError
from nova_lite.policy.defaults import DEFAULTS, RuleDefault
from nova_lite.policy.enforcer import Enforcer, credentials, load_rules_file
from nova_lite.policy.rules import parse

__all__ = [
    "DEFAULTS",
    "Enforcer",
    "PolicyError",
    "RuleDefault",
    "credentials",
    "load_rules_file",
    "parse",
]
