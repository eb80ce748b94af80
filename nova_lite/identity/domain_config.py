"""Domain-specific configuration (``/v3/domains/{id}/config``): recorded, never applied.

Keystone lets a domain carry its own ``[identity]`` and ``[ldap]`` options so that
its users come from an LDAP server. nova_lite keeps every domain's users in its
own database, so a domain's configuration is stored, shown, updated and deleted as
Keystone would, with Keystone's allowed options and their defaults, but it changes
nothing about where users come from. The LDAP ``password`` is taken and never
shown, as Keystone's sensitive options are.
"""

from __future__ import annotations

from typing import Any

from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid, NotFound
from nova_lite.identity import checks
from nova_lite.identity.access import IdentityAccess
from nova_lite.identity.store import IdentityStore
from nova_lite.rpc.endpoint import endpoint

__all__ = ["DEFAULTS", "DomainConfigs"]

_LDAP_STRINGS = (
    "user", "debug_level", "chase_referrals", "user_tree_dn", "user_filter",
    "user_default_project_id_attribute", "user_enabled_emulation_dn", "group_tree_dn",
    "group_filter", "tls_cacertfile", "tls_cacertdir",
)  # fmt: skip
DEFAULTS: dict[str, dict[str, Any]] = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {
        "url": "ldap://localhost", "suffix": "cn=example,cn=com", "query_scope": "one",
        "page_size": 0, "alias_dereferencing": "default", "user_objectclass": "inetOrgPerson",
        "user_id_attribute": "cn", "user_name_attribute": "sn", "user_mail_attribute": "mail",
        "user_description_attribute": "description", "user_pass_attribute": "userPassword",
        "user_enabled_attribute": "enabled", "user_enabled_invert": False,
        "user_enabled_mask": 0, "user_enabled_default": "True",
        "user_attribute_ignore": ["default_project_id"], "user_enabled_emulation": False,
        "user_enabled_emulation_use_group_config": False,
        "user_additional_attribute_mapping": [], "group_objectclass": "groupOfNames",
        "group_id_attribute": "cn", "group_name_attribute": "ou",
        "group_members_are_ids": False, "group_member_attribute": "member",
        "group_desc_attribute": "description", "group_attribute_ignore": [],
        "group_additional_attribute_mapping": [], "use_tls": False, "tls_req_cert": "demand",
        "use_pool": True, "pool_size": 10, "pool_retry_max": 3, "pool_retry_delay": 0.1,
        "pool_connection_timeout": -1, "pool_connection_lifetime": 600, "use_auth_pool": True,
        "auth_pool_size": 100, "auth_pool_connection_lifetime": 60,
        **dict.fromkeys(_LDAP_STRINGS),
    },
}  # fmt: skip
SENSITIVE = {"identity": (), "ldap": ("password",)}
_RULES = {
    "get": "identity:get_domain_config",
    "create": "identity:create_domain_config",
    "update": "identity:update_domain_config",
    "delete": "identity:delete_domain_config",
}


def _check_group(group: str) -> None:
    if group not in DEFAULTS:
        raise Invalid(f"Group {group!r:.40} is not supported; the groups are identity and ldap.")


def _check_option(group: str, option: str | None) -> None:
    _check_group(group)
    if option is not None and option not in DEFAULTS[group] and option not in SENSITIVE[group]:
        raise Invalid(f"Option {option!r:.40} in group {group} is not supported.")


def _check_config(config: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(config, dict) or not config:
        raise Invalid("A domain configuration is a non-empty object of option groups.")
    for group, options in config.items():
        if not isinstance(options, dict):
            raise Invalid(f"Group {group!r:.40} must be an object of options.")
        for option in options:
            _check_option(group, option)
    return config


def _visible(config: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        group: {k: v for k, v in options.items() if k not in SENSITIVE.get(group, ())}
        for group, options in config.items()
    }


class DomainConfigs:
    """Endpoints for a domain's configuration and Keystone's defaults."""

    def __init__(self, store: IdentityStore, access: IdentityAccess) -> None:
        self.store = store
        self.access = access

    def __repr__(self) -> str:
        return f"<DomainConfigs {self.store!r}>"

    async def _load(self, domain_id: str) -> dict[str, dict[str, Any]] | None:
        row = await self.store.db.fetchone(
            "SELECT body FROM domain_configs WHERE domain_id = ?", (domain_id,)
        )
        return None if row is None else checks.decode(row["body"])

    async def _save(self, domain_id: str, config: dict[str, dict[str, Any]]) -> None:
        if not config:
            await self.store.db.execute(
                "DELETE FROM domain_configs WHERE domain_id = ?", (domain_id,)
            )
            return
        await self.store.db.execute(
            "INSERT INTO domain_configs (domain_id, body) VALUES (?, ?)"
            " ON CONFLICT (domain_id) DO UPDATE SET body = excluded.body",
            (domain_id, checks.encode_extra(config)),
        )

    @endpoint
    async def domain_config(
        self,
        ctx: RequestContext,
        op: str,
        domain_id: str,
        group: str | None = None,
        option: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``get``, ``create`` (whole), ``update`` or ``delete`` a domain's configuration,
        its `group` or one `option`: ``{"config": ..., "created": bool}``."""
        if op not in _RULES:
            raise Invalid(f"Unknown domain config operation {op!r}.")
        await self.store.domain_row(domain_id)
        await self.access.authorize(ctx, _RULES[op], {"target.domain.id": domain_id})
        if group is not None:
            _check_option(group, option)
        current = await self._load(domain_id)
        if op == "create":
            await self._save(domain_id, _check_config(config))
            return {"config": _visible(config or {}), "created": current is None}
        if current is None:
            raise NotFound(f"Could not find domain config for domain {domain_id}.")
        if op == "get":
            return {"config": self._part(_visible(current), group, option), "created": False}
        updated = self._changed(op, current, group, option, config)
        await self._save(domain_id, updated)
        return {"config": _visible(updated), "created": False}

    @staticmethod
    def _part(config: dict[str, Any], group: str | None, option: str | None) -> dict[str, Any]:
        if group is None:
            return config
        if group not in config or (option is not None and option not in config[group]):
            raise NotFound(f"Could not find domain config option {group} {option or ''}.")
        return {option: config[group][option]} if option is not None else {group: config[group]}

    @staticmethod
    def _changed(
        op: str,
        current: dict[str, dict[str, Any]],
        group: str | None,
        option: str | None,
        config: dict[str, Any] | None,
    ) -> dict[str, dict[str, Any]]:
        updated = {g: dict(options) for g, options in current.items()}
        if op == "delete":
            DomainConfigs._part(current, group, option)
            if group is None:
                return {}
            if option is None:
                updated.pop(group)
            else:
                updated[group].pop(option)
            return {g: options for g, options in updated.items() if options}
        if option is not None and group is not None:
            if not isinstance(config, dict) or set(config) != {option}:
                raise Invalid(
                    f"Send the new value of {option} as {{'config': {{{option!r}: ...}}}}."
                )
            updated.setdefault(group, {})[option] = config[option]
            return updated
        changes = _check_config(config)
        if group is not None and set(changes) != {group}:
            raise Invalid(f"Only group {group} can be updated at this path.")
        for name, options in changes.items():
            updated.setdefault(name, {}).update(options)
        return updated

    @endpoint
    async def domain_config_default(
        self, ctx: RequestContext, group: str | None = None, option: str | None = None
    ) -> dict[str, Any]:
        """Keystone's defaults for the options a domain may set (all, a group, one)."""
        await self.access.authorize(ctx, "identity:get_domain_config_default")
        if group is not None:
            _check_group(group)
            if option is not None:
                if option not in DEFAULTS[group]:
                    raise Invalid(
                        f"Reading the default of {group} {option!r:.40} is not supported."
                    )
                return {option: DEFAULTS[group][option]}
            return {group: DEFAULTS[group]}
        return DEFAULTS
