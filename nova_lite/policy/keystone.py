"""Keystone's default rules (``keystone/common/policies/``), as the identity service enforces them.

The check strings are upstream's, with two changes: the domain manager clauses
(``role:manager and domain_id:...``) are left out, since nova_lite has no domain
managers, and rules Keystone writes with ``not None:`` guards keep only the checks
they guard. ``rule:admin_required`` is an administrator of any project, as in a
Keystone without scope enforcement. The credentials ``system_scope``, ``domain_id``,
``token.domain.id`` and ``token.project.domain.id`` come from the caller's token,
which the identity service reads (`nova_lite.identity.access`).
"""

from __future__ import annotations

__all__ = ["ROWS"]

ADMIN = "rule:admin_required"
SYSTEM_READER = "(role:reader and system_scope:all)"
ADMIN_OR_SYSTEM_READER = f"{ADMIN} or {SYSTEM_READER}"


def _domain_reader(key: str) -> str:
    return f"(role:reader and domain_id:%({key})s)"


_GRANT_READER = (
    "(role:reader and domain_id:%(target.user.domain_id)s"
    " and domain_id:%(target.project.domain_id)s)"
    " or (role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s)"
    " or (role:reader and domain_id:%(target.group.domain_id)s"
    " and domain_id:%(target.project.domain_id)s)"
    " or (role:reader and domain_id:%(target.group.domain_id)s"
    " and domain_id:%(target.domain.id)s)"
)
_GRANT_ADMIN = _GRANT_READER.replace("role:reader", "role:admin")
_PROJECT_READER = (
    f"{ADMIN} or {SYSTEM_READER} or {_domain_reader('target.project.domain_id')}"
    " or project_id:%(target.project.id)s"
)
_GROUP_READER = f"{ADMIN} or {SYSTEM_READER} or {_domain_reader('target.group.domain_id')}"


def _crud(name: str, plural: str, read: str, what: str) -> list[tuple[str, str, str]]:
    return [
        (f"identity:get_{name}", read, f"Show {what}."),
        (f"identity:list_{plural}", read, f"List {what}s."),
        (f"identity:create_{name}", ADMIN, f"Create {what}."),
        (f"identity:update_{name}", ADMIN, f"Change {what}."),
        (f"identity:delete_{name}", ADMIN, f"Delete {what}."),
    ]


ROWS: tuple[tuple[str, str, str], ...] = (
    ("service_role", "role:service", "Keystone's service role."),
    ("owner", "user_id:%(user_id)s", "The user the target belongs to."),
    ("admin_or_owner", f"{ADMIN} or rule:owner", "An administrator, or the target's user."),
    ("token_subject", "user_id:%(target.token.user_id)s", "The user a token belongs to."),
    # tokens and what a token may scope to
    (
        "identity:validate_token",
        f"{ADMIN_OR_SYSTEM_READER} or rule:service_role or rule:token_subject",
        "Show a token: an administrator, a service, or the token's own user.",
    ),
    (
        "identity:check_token",
        f"{ADMIN_OR_SYSTEM_READER} or rule:token_subject",
        "HEAD a token: an administrator, or the token's own user.",
    ),
    (
        "identity:revoke_token",
        f"{ADMIN} or rule:token_subject",
        "Revoke a token: an administrator, or the token's own user.",
    ),
    ("identity:get_auth_catalog", "", "The catalog of the caller's token."),
    ("identity:get_auth_projects", "", "The projects the caller may scope to."),
    ("identity:get_auth_domains", "", "The domains the caller may scope to."),
    ("identity:get_auth_system", "", "Whether the caller may scope to the system."),
    # domains and projects
    (
        "identity:get_domain",
        f"{ADMIN_OR_SYSTEM_READER} or token.domain.id:%(target.domain.id)s"
        " or token.project.domain.id:%(target.domain.id)s",
        "Show a domain: an administrator, or a token of (a project of) that domain.",
    ),
    (
        "identity:list_domains",
        f"{ADMIN_OR_SYSTEM_READER} or {_domain_reader('target.domain.id')}",
        "List domains.",
    ),
    ("identity:create_domain", ADMIN, "Create a domain."),
    ("identity:update_domain", ADMIN, "Change a domain."),
    ("identity:delete_domain", ADMIN, "Delete a domain."),
    ("identity:get_project", _PROJECT_READER, "Show a project: an administrator, or its member."),
    (
        "identity:list_projects",
        f"{ADMIN_OR_SYSTEM_READER} or {_domain_reader('target.domain_id')}",
        "List projects.",
    ),
    (
        "identity:list_user_projects",
        f"{ADMIN_OR_SYSTEM_READER} or {_domain_reader('target.user.domain_id')}"
        " or user_id:%(target.user.id)s",
        "List a user's projects: an administrator, or that user.",
    ),
    ("identity:create_project", ADMIN, "Create a project."),
    ("identity:update_project", ADMIN, "Change a project."),
    ("identity:delete_project", ADMIN, "Delete a project."),
    ("identity:list_project_tags", _PROJECT_READER, "List a project's tags."),
    ("identity:get_project_tag", _PROJECT_READER, "Check a project's tag."),
    ("identity:update_project_tags", ADMIN, "Replace a project's tags."),
    ("identity:create_project_tag", ADMIN, "Add a tag to a project."),
    ("identity:delete_project_tags", ADMIN, "Remove every tag of a project."),
    ("identity:delete_project_tag", ADMIN, "Remove a tag of a project."),
    ("identity:create_domain_config", ADMIN, "Set a domain's configuration."),
    ("identity:get_domain_config", ADMIN_OR_SYSTEM_READER, "Show a domain's configuration."),
    ("identity:update_domain_config", ADMIN, "Change a domain's configuration."),
    ("identity:delete_domain_config", ADMIN, "Delete a domain's configuration."),
    (
        "identity:get_domain_config_default",
        ADMIN_OR_SYSTEM_READER,
        "Show the default domain configuration.",
    ),
    # users and groups
    (
        "identity:get_user",
        f"{ADMIN_OR_SYSTEM_READER} or (role:reader and token.domain.id:%(target.user.domain_id)s)"
        " or user_id:%(target.user.id)s",
        "Show a user: an administrator, or that user.",
    ),
    (
        "identity:list_users",
        f"{ADMIN_OR_SYSTEM_READER} or {_domain_reader('target.domain_id')}",
        "List users.",
    ),
    ("identity:create_user", ADMIN, "Create a user."),
    ("identity:update_user", ADMIN, "Change a user (a new password revokes their tokens)."),
    ("identity:delete_user", ADMIN, "Delete a user."),
    ("identity:get_group", _GROUP_READER, "Show a group."),
    ("identity:list_groups", _GROUP_READER, "List groups."),
    (
        "identity:list_groups_for_user",
        f"{ADMIN_OR_SYSTEM_READER} or {_domain_reader('target.user.domain_id')}"
        " or user_id:%(user_id)s",
        "List a user's groups: an administrator, or that user.",
    ),
    ("identity:create_group", ADMIN, "Create a group."),
    ("identity:update_group", ADMIN, "Change a group."),
    ("identity:delete_group", ADMIN, "Delete a group."),
    ("identity:list_users_in_group", _GROUP_READER, "List a group's users."),
    (
        "identity:check_user_in_group",
        f"{ADMIN_OR_SYSTEM_READER} or (role:reader and domain_id:%(target.group.domain_id)s"
        " and domain_id:%(target.user.domain_id)s)",
        "Check a group's member.",
    ),
    ("identity:add_user_to_group", ADMIN, "Add a user to a group."),
    ("identity:remove_user_from_group", ADMIN, "Remove a user from a group."),
    # roles, implied roles, grants
    ("identity:get_role", ADMIN_OR_SYSTEM_READER, "Show a role."),
    ("identity:list_roles", ADMIN_OR_SYSTEM_READER, "List the global roles."),
    ("identity:create_role", ADMIN, "Create a global role."),
    ("identity:update_role", ADMIN, "Change a global role."),
    ("identity:delete_role", ADMIN, "Delete a global role."),
    ("identity:get_domain_role", ADMIN_OR_SYSTEM_READER, "Show a domain's role."),
    ("identity:list_domain_roles", ADMIN_OR_SYSTEM_READER, "List a domain's roles."),
    ("identity:create_domain_role", ADMIN, "Create a domain's role."),
    ("identity:update_domain_role", ADMIN, "Change a domain's role."),
    ("identity:delete_domain_role", ADMIN, "Delete a domain's role."),
    ("identity:get_implied_role", ADMIN_OR_SYSTEM_READER, "Show an implication rule."),
    ("identity:list_implied_roles", ADMIN_OR_SYSTEM_READER, "List what a role implies."),
    ("identity:create_implied_role", ADMIN, "Make a role imply another."),
    ("identity:delete_implied_role", ADMIN, "Remove an implication rule."),
    ("identity:list_role_inference_rules", ADMIN_OR_SYSTEM_READER, "List implication rules."),
    ("identity:check_implied_role", ADMIN_OR_SYSTEM_READER, "Check an implication rule."),
    (
        "identity:check_grant",
        f"{ADMIN} or {SYSTEM_READER} or {_GRANT_READER}",
        "Check a role of a user or group on a project or domain.",
    ),
    (
        "identity:list_grants",
        f"{ADMIN} or {SYSTEM_READER} or {_GRANT_READER}",
        "List the roles of a user or group on a project or domain.",
    ),
    (
        "identity:create_grant",
        f"{ADMIN} or {_GRANT_ADMIN}",
        "Give a user or group a role on a project or domain.",
    ),
    (
        "identity:revoke_grant",
        f"{ADMIN} or {_GRANT_ADMIN}",
        "Take a role of a user or group on a project or domain away.",
    ),
    *(
        row
        for actor in ("user", "group")
        for row in (
            (
                f"identity:list_system_grants_for_{actor}",
                ADMIN_OR_SYSTEM_READER,
                f"List a {actor}'s roles on the system.",
            ),
            (
                f"identity:check_system_grant_for_{actor}",
                ADMIN_OR_SYSTEM_READER,
                f"Check a {actor}'s role on the system.",
            ),
            (
                f"identity:create_system_grant_for_{actor}",
                ADMIN,
                f"Give a {actor} a role on the system.",
            ),
            (
                f"identity:revoke_system_grant_for_{actor}",
                ADMIN,
                f"Take a {actor}'s role on the system away.",
            ),
        )
    ),
    (
        "identity:list_role_assignments",
        f"{ADMIN_OR_SYSTEM_READER} or {_domain_reader('target.domain_id')}",
        "List role assignments.",
    ),
    # application credentials
    (
        "identity:get_application_credential",
        f"{ADMIN_OR_SYSTEM_READER} or rule:owner",
        "Show an application credential: an administrator, or its user.",
    ),
    (
        "identity:list_application_credentials",
        f"{ADMIN_OR_SYSTEM_READER} or rule:owner",
        "List a user's application credentials: an administrator, or that user.",
    ),
    (
        "identity:create_application_credential",
        "user_id:%(user_id)s",
        "Make an application credential: the user themself.",
    ),
    (
        "identity:delete_application_credential",
        "rule:admin_or_owner",
        "Delete an application credential: an administrator, or its user.",
    ),
    # the catalog and other records
    *_crud("service", "services", ADMIN_OR_SYSTEM_READER, "a service"),
    *_crud("endpoint", "endpoints", ADMIN_OR_SYSTEM_READER, "an endpoint"),
    *_crud("region", "regions", "", "a region"),
    *_crud("endpoint_group", "endpoint_groups", ADMIN_OR_SYSTEM_READER, "an endpoint group"),
    *_crud("policy", "policies", ADMIN_OR_SYSTEM_READER, "a policy blob"),
    *_crud("consumer", "consumers", ADMIN_OR_SYSTEM_READER, "an OAuth consumer"),
    (
        "identity:ec2_get_credential",
        f"{ADMIN_OR_SYSTEM_READER} or user_id:%(target.credential.user_id)s",
        "Show an ec2 credential: an administrator, or its user.",
    ),
    (
        "identity:ec2_list_credentials",
        f"{ADMIN_OR_SYSTEM_READER} or rule:owner",
        "List a user's ec2 credentials: an administrator, or that user.",
    ),
    (
        "identity:ec2_create_credential",
        f"{ADMIN} or (role:member and user_id:%(target.credential.user_id)s)",
        "Make an ec2 credential: an administrator, or a member for themself.",
    ),
    (
        "identity:ec2_delete_credential",
        f"{ADMIN} or (role:member and user_id:%(target.credential.user_id)s)",
        "Delete an ec2 credential: an administrator, or a member, their own.",
    ),
    (
        "identity:get_credential",
        f"{ADMIN_OR_SYSTEM_READER} or user_id:%(target.credential.user_id)s",
        "Show a credential: an administrator, or its user.",
    ),
    (
        "identity:list_credentials",
        f"{ADMIN_OR_SYSTEM_READER} or user_id:%(target.credential.user_id)s",
        "List credentials (each caller sees those it may show).",
    ),
    (
        "identity:create_credential",
        f"{ADMIN} or user_id:%(target.credential.user_id)s",
        "Create a credential: an administrator, or for oneself.",
    ),
    (
        "identity:update_credential",
        f"{ADMIN} or user_id:%(target.credential.user_id)s",
        "Change a credential: an administrator, or its user.",
    ),
    (
        "identity:delete_credential",
        f"{ADMIN} or user_id:%(target.credential.user_id)s",
        "Delete a credential: an administrator, or its user.",
    ),
)
