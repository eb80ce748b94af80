"""The client side of the identity service: `IdentityAPI`, one method per endpoint."""

from __future__ import annotations

from typing import Any, ClassVar

from nova_lite.context import RequestContext
from nova_lite.objects import TokenInfo
from nova_lite.rpcapi import RPCAPI

__all__ = ["IdentityAPI"]


class IdentityAPI(RPCAPI):
    """How other services reach the identity service (topic ``identity``, API 1.0)."""

    topic: ClassVar[str] = "identity"
    version: ClassVar[str] = "1.0"

    async def authenticate(
        self, ctx: RequestContext, username: str, password: str, project_name: str
    ) -> dict[str, Any]:
        """A new token scoped to `project_name`: ``{"token": str, "token_info": TokenInfo}``.

        Raises `NotAuthorized`, with one message whatever the cause.
        """
        result: dict[str, Any] = await self.invoker.call(
            ctx, "authenticate", username=username, password=password, project_name=project_name
        )
        return result

    async def validate_token(self, ctx: RequestContext, token: str) -> TokenInfo:
        """What `token` stands for; `NotAuthorized` if it is unknown, expired or revoked."""
        info: TokenInfo = await self.invoker.call(ctx, "validate_token", token=token)
        return info

    async def revoke_token(self, ctx: RequestContext, token: str) -> None:
        """Revoke `token` at once; later validations of it fail."""
        await self.invoker.call(ctx, "revoke_token", token=token)

    async def create_project(
        self, ctx: RequestContext, name: str, description: str = ""
    ) -> dict[str, Any]:
        """Create a project (admin only): ``{"id", "name", "description", "created_at"}``."""
        project: dict[str, Any] = await self.invoker.call(
            ctx, "create_project", name=name, description=description
        )
        return project

    async def list_projects(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every project, by name (admin only)."""
        projects: list[dict[str, Any]] = await self.invoker.call(ctx, "list_projects")
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
        user: dict[str, Any] = await self.invoker.call(
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
        await self.invoker.call(
            ctx, "assign_role", user_name=user_name, project_name=project_name, role=role
        )

    async def list_users(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every user with their assignments, without password hashes (admin only)."""
        users: list[dict[str, Any]] = await self.invoker.call(ctx, "list_users")
        return users

    async def delete_user(self, ctx: RequestContext, user_name: str) -> None:
        """Delete a user and revoke their tokens (admin only)."""
        await self.invoker.call(ctx, "delete_user", user_name=user_name)
