"""The sample policy file: every rule, its default and what it guards, as YAML.

``etc/policy.sample.yaml`` is this text (a test keeps the two equal); regenerate it with
``python -m nova_lite.policy.sample > etc/policy.sample.yaml``. Every rule is commented
out, as oslo.policy's generated samples are: uncomment one and change it to override.
"""

from __future__ import annotations

import sys

from nova_lite.policy.defaults import (
    BASE,
    COMPUTE,
    COMPUTE_ADMIN,
    COMPUTE_NETWORK,
    IDENTITY,
    IMAGE,
    NETWORK,
    VOLUME,
)

__all__ = ["render"]

_SECTIONS = (
    ("Shared base rules", BASE),
    ("Compute (Nova): enforced by the api service", COMPUTE),
    (
        "Compute's security groups (Nova's proxy of Neutron's): the api service",
        COMPUTE_NETWORK,
    ),
    ("Compute (Nova) administration: enforced by the api service", COMPUTE_ADMIN),
    ("Image (Glance): enforced by the image service", IMAGE),
    ("Network (Neutron): enforced by the network service", NETWORK),
    ("Volume (Cinder): enforced by the volume service", VOLUME),
    ("Identity (Keystone): enforced by the identity service and its HTTP routes", IDENTITY),
)

_HEADER = """\
# nova_lite's policy rules, with their defaults (generated: python -m nova_lite.policy.sample).
#
# Point [policy] file (or NOVA_LITE_POLICY_FILE) at a YAML or TOML file naming the
# rules to change; the others keep these defaults. The rule language is oslo.policy's:
# role:NAME, KEY:%(target_key)s, 'literal':%(target_key)s, rule:NAME, @ (always),
# ! (never), not, and, or, parentheses. An unknown rule name, or a rule that does not
# parse, stops the service at start-up with the file and the rule named.
"""


def render() -> str:
    """The sample policy file's text."""
    lines = [_HEADER]
    for title, rules in _SECTIONS:
        lines.append(f"\n# -- {title} --\n")
        for rule in rules:
            lines.append(f"\n# {rule.description}\n")
            lines.append(f'#"{rule.name}": "{rule.check_str}"\n')
    return "".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render())
