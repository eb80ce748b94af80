"""The client side of the identity service: `IdentityAPI`, one method per endpoint.

Records of every kind (domains, projects, users, groups, roles, services, endpoints,
regions, endpoint groups, policies, credentials, consumers, application
credentials) go through the five ``entity_*`` methods with their kind's name;
the rest are the operations Keystone has beside them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from nova_lite.context import RequestContext
from nova_lite.objects import TokenInfo
from nova_lite.rpcapi import RPCAPI

__all__ = ["IdentityAPI"]

Record = dict[str, Any]


class IdentityAPI(RPCAPI):
    """How other services reach the identity service (topic ``identity``, API 1.0)."""

    topic: ClassVar[str] = "identity"
    version: ClassVar[str] = "1.0"

    async def _call(self, ctx: RequestContext, method: str, **kwargs: Any) -> Any:
        return await self.invoker.call(ctx, method, **kwargs)

    # -- tokens ---------------------------------------------------------------------

    async def authenticate(
        self, ctx: RequestContext, username: str, password: str, project_name: str
    ) -> dict[str, Any]:
        """A new token scoped to `project_name` (default domain): ``{"token", "token_info"}``.

        Raises `NotAuthorized`, with one message whatever the cause.
        """
        result: dict[str, Any] = await self._call(
            ctx, "authenticate", username=username, password=password, project_name=project_name
        )
        return result

    async def issue_token(self, ctx: RequestContext, auth: dict[str, Any]) -> dict[str, Any]:
        """A token for Keystone's ``auth`` body: ``{"token", "token_info", "data", "catalog"}``."""
        result: dict[str, Any] = await self._call(ctx, "issue_token", auth=auth)
        return result

    async def validate_token(self, ctx: RequestContext, token: str) -> TokenInfo:
        """What `token` stands for; `NotAuthorized` if it is unknown, expired or revoked."""
        info: TokenInfo = await self._call(ctx, "validate_token", token=token)
        return info

    async def token_data(self, ctx: RequestContext, subject: str, rule: str) -> dict[str, Any]:
        """Keystone's body of token `subject` (``{"data", "catalog"}``), if `rule` allows."""
        result: dict[str, Any] = await self._call(ctx, "token_data", subject=subject, rule=rule)
        return result

    async def revoke_subject(self, ctx: RequestContext, subject: str) -> None:
        """Revoke token `subject`, if ``identity:revoke_token`` allows the caller."""
        await self._call(ctx, "revoke_subject", subject=subject)

    async def revoke_token(self, ctx: RequestContext, token: str) -> None:
        """Revoke `token` at once; later validations of it fail."""
        await self._call(ctx, "revoke_token", token=token)

    async def auth_scopes(self, ctx: RequestContext, kind: str) -> list[Record]:
        """What the caller may scope to: ``projects``, ``domains`` or ``system``."""
        found: list[Record] = await self._call(ctx, "auth_scopes", kind=kind)
        return found

    async def catalog_entries(self, ctx: RequestContext) -> list[Record]:
        """The catalog: enabled services with their enabled endpoints (URL templates)."""
        entries: list[Record] = await self._call(ctx, "catalog_entries")
        return entries

    # -- records of every kind ------------------------------------------------------

    async def entity_create(self, ctx: RequestContext, kind: str, body: Record) -> Record:
        """Create a record of `kind` from Keystone's body."""
        created: Record = await self._call(ctx, "entity_create", kind=kind, body=body)
        return created

    async def entity_get(self, ctx: RequestContext, kind: str, ident: str) -> Record:
        """The record `ident` of `kind`."""
        found: Record = await self._call(ctx, "entity_get", kind=kind, ident=ident)
        return found

    async def entity_list(
        self, ctx: RequestContext, kind: str, filters: dict[str, str] | None = None
    ) -> list[Record]:
        """The records of `kind` matching the query `filters`."""
        found: list[Record] = await self._call(ctx, "entity_list", kind=kind, filters=filters)
        return found

    async def entity_update(
        self, ctx: RequestContext, kind: str, ident: str, body: Record
    ) -> Record:
        """Change record `ident` of `kind`."""
        changed: Record = await self._call(ctx, "entity_update", kind=kind, ident=ident, body=body)
        return changed

    async def entity_delete(self, ctx: RequestContext, kind: str, ident: str) -> None:
        """Delete record `ident` of `kind`."""
        await self._call(ctx, "entity_delete", kind=kind, ident=ident)

    # -- around the records ---------------------------------------------------------

    async def user_change_password(
        self, ctx: RequestContext, user_id: str, original_password: str, password: str
    ) -> None:
        """A user's own password change (revokes their tokens)."""
        await self._call(
            ctx,
            "user_change_password",
            user_id=user_id,
            original_password=original_password,
            password=password,
        )

    async def project_tags(
        self, ctx: RequestContext, project_id: str, op: str, tags: list[str] | None = None
    ) -> list[str]:
        """``list``, ``replace`` or ``clear`` a project's tags; the tags after."""
        found: list[str] = await self._call(
            ctx, "project_tags", project_id=project_id, op=op, tags=tags
        )
        return found

    async def project_tag(self, ctx: RequestContext, project_id: str, op: str, tag: str) -> None:
        """``add``, ``check`` or ``remove`` one tag of a project."""
        await self._call(ctx, "project_tag", project_id=project_id, op=op, tag=tag)

    async def group_member(self, ctx: RequestContext, group_id: str, user_id: str, op: str) -> None:
        """``add``, ``check`` or ``remove`` a user of a group."""
        await self._call(ctx, "group_member", group_id=group_id, user_id=user_id, op=op)

    async def group_users(self, ctx: RequestContext, group_id: str) -> list[Record]:
        """The users of a group."""
        found: list[Record] = await self._call(ctx, "group_users", group_id=group_id)
        return found

    async def user_groups(self, ctx: RequestContext, user_id: str) -> list[Record]:
        """The groups of a user."""
        found: list[Record] = await self._call(ctx, "user_groups", user_id=user_id)
        return found

    async def user_projects(self, ctx: RequestContext, user_id: str) -> list[Record]:
        """The projects a user holds a role on."""
        found: list[Record] = await self._call(ctx, "user_projects", user_id=user_id)
        return found

    async def implied_role(
        self, ctx: RequestContext, prior_role_id: str, implied_role_id: str, op: str
    ) -> Record | None:
        """``create``, ``get``, ``check`` or ``delete`` an implication rule."""
        found: Record | None = await self._call(
            ctx,
            "implied_role",
            prior_role_id=prior_role_id,
            implied_role_id=implied_role_id,
            op=op,
        )
        return found

    async def role_inferences(
        self, ctx: RequestContext, prior_role_id: str | None = None
    ) -> list[Record]:
        """The implication rules, by prior role (only `prior_role_id`'s if given)."""
        found: list[Record] = await self._call(ctx, "role_inferences", prior_role_id=prior_role_id)
        return found

    async def grant(
        self,
        ctx: RequestContext,
        op: str,
        actor_type: str,
        actor_id: str,
        target_type: str,
        target_id: str,
        role_id: str,
        inherited: bool = False,
    ) -> None:
        """``create``, ``check`` or ``revoke`` a role of a user or group on a target
        (`inherited`: the grant the projects below it inherit)."""
        await self._call(
            ctx,
            "grant",
            op=op,
            actor_type=actor_type,
            actor_id=actor_id,
            target_type=target_type,
            target_id=target_id,
            role_id=role_id,
            inherited=inherited,
        )

    async def grants(
        self,
        ctx: RequestContext,
        actor_type: str,
        actor_id: str,
        target_type: str,
        target_id: str,
        inherited: bool = False,
    ) -> list[Record]:
        """The roles given directly to a user or group on a target (or inherited from it)."""
        found: list[Record] = await self._call(
            ctx,
            "grants",
            actor_type=actor_type,
            actor_id=actor_id,
            target_type=target_type,
            target_id=target_id,
            inherited=inherited,
        )
        return found

    async def role_assignments(self, ctx: RequestContext, filters: dict[str, str]) -> list[Record]:
        """Keystone's role assignment list (``effective``, ``include_names``, ...)."""
        found: list[Record] = await self._call(ctx, "role_assignments", filters=filters)
        return found

    async def domain_config(
        self,
        ctx: RequestContext,
        op: str,
        domain_id: str,
        group: str | None = None,
        option: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> Record:
        """``get``, ``create``, ``update`` or ``delete`` a domain's configuration."""
        result: Record = await self._call(
            ctx,
            "domain_config",
            op=op,
            domain_id=domain_id,
            group=group,
            option=option,
            config=config,
        )
        return result

    async def domain_config_default(
        self, ctx: RequestContext, group: str | None = None, option: str | None = None
    ) -> Record:
        """Keystone's default domain configuration (all, a group, an option)."""
        result: Record = await self._call(ctx, "domain_config_default", group=group, option=option)
        return result

    async def ec2_credential(
        self,
        ctx: RequestContext,
        op: str,
        user_id: str,
        access: str | None = None,
        tenant_id: str | None = None,
    ) -> Record | None:
        """``create`` (for `tenant_id`), ``get`` or ``delete`` (by `access`) an ec2 credential."""
        found: Record | None = await self._call(
            ctx, "ec2_credential", op=op, user_id=user_id, access=access, tenant_id=tenant_id
        )
        return found

    async def ec2_credentials(self, ctx: RequestContext, user_id: str) -> list[Record]:
        """A user's ec2 credentials."""
        found: list[Record] = await self._call(ctx, "ec2_credentials", user_id=user_id)
        return found

    # -- by name, in the default domain ---------------------------------------------

    async def create_project(
        self, ctx: RequestContext, name: str, description: str = ""
    ) -> dict[str, Any]:
        """Create a project (admin only): ``{"id", "name", "description", "created_at"}``."""
        project: dict[str, Any] = await self._call(
            ctx, "create_project", name=name, description=description
        )
        return project

    async def list_projects(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every project, by name (admin only)."""
        projects: list[dict[str, Any]] = await self._call(ctx, "list_projects")
        return projects

    async def create_user(
        self,
        ctx: RequestContext,
        name: str,
        password: str,
        project_name: str,
        role: str = "member",
    ) -> dict[str, Any]:
        """Create a user with `role` on `project_name` (admin only): ``{"id", "name", ...}``."""
        user: dict[str, Any] = await self._call(
            ctx,
            "create_user",
            name=name,
            password=password,
            project_name=project_name,
            role=role,
        )
        return user

    async def assign_role(
        self, ctx: RequestContext, user_name: str, project_name: str, role: str
    ) -> None:
        """Give a user a role on a project (admin only)."""
        await self._call(
            ctx, "assign_role", user_name=user_name, project_name=project_name, role=role
        )

    async def list_users(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every user with their assignments, without password hashes (admin only)."""
        users: list[dict[str, Any]] = await self._call(ctx, "list_users")
        return users

    async def delete_user(self, ctx: RequestContext, user_name: str) -> None:
        """Delete a user and revoke their tokens (admin only)."""
        await self._call(ctx, "delete_user", user_name=user_name)
