"""Key pairs through the API (``session.keypairs``, Nova's os-keypairs and KeypairAPI).

A key pair is the caller's own; an administrator may name another user
(microversion 2.10), as Nova's ``(admin) or user_id:%(user_id)s`` rules allow. A
create without a public key generates one here, in the api service, and answers
the private half once: it never crosses the bus and is never stored. An imported
public key is parsed first (`keys.fingerprint`), so junk is a 400 before anything
is written.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import attrs

from nova_lite import objects, validators
from nova_lite.api import keys
from nova_lite.context import RequestContext
from nova_lite.exceptions import Invalid

if TYPE_CHECKING:
    from nova_lite.api.client import Session

__all__ = ["Keypairs", "NewKeypair"]

RULE = "os_compute_api:os-keypairs:"
MAX_PUBLIC_KEY = 65535  # the key_pairs.public_key column Nova stores it in (TEXT)


@attrs.frozen
class NewKeypair:
    """A key pair just created: as kept, and its private half if it was generated."""

    keypair: objects.KeyPair
    private_key: str | None


class Keypairs:
    """``session.keypairs``: create or import, show, list and delete key pairs."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.api = session.api

    def __repr__(self) -> str:
        return f"<Keypairs of {self.session!r}>"

    async def _caller(self, operation: str, user_id: str | None) -> tuple[RequestContext, str]:
        """The caller's context and the user it acts for, if the policy allows it."""
        ctx = await self.session.context()
        owner = user_id or ctx.user_id or ""
        self.api.policy.authorize(ctx, RULE + operation, {"user_id": owner})
        return ctx, owner

    async def create(
        self,
        name: str,
        *,
        public_key: str | None = None,
        key_type: str = "ssh",
        user_id: str | None = None,
    ) -> NewKeypair:
        """Import `public_key`, or generate a key pair, named `name` for the user."""
        ctx, owner = await self._caller("create", user_id)
        validators.keypair_name(name)
        if key_type not in keys.KEY_TYPES:
            raise Invalid(f"Invalid keypair type {key_type!r}: use one of {list(keys.KEY_TYPES)}.")
        private_key = None
        if public_key is None:
            generated = await asyncio.to_thread(keys.generate, key_type, owner)
            public_key, private_key = generated.public_key, generated.private_key
            fingerprint = generated.fingerprint
        else:
            if not isinstance(public_key, str) or len(public_key) > MAX_PUBLIC_KEY:
                raise Invalid(f"A public key is text of at most {MAX_PUBLIC_KEY} characters.")
            fingerprint = keys.fingerprint(public_key, key_type)
        keypair = objects.KeyPair(
            id=0,
            name=name,
            user_id=owner,
            type=key_type,
            public_key=public_key,
            fingerprint=fingerprint,
        )
        created = await self.api.conductor.keypair_create(ctx, keypair)
        return NewKeypair(created, private_key)

    async def get(self, name: str, *, user_id: str | None = None) -> objects.KeyPair:
        """The user's key pair `name` (`KeypairNotFound` if there is none)."""
        ctx, owner = await self._caller("show", user_id)
        return await self.api.conductor.keypair_get(ctx, owner, name)

    async def list(
        self, *, user_id: str | None = None, limit: int | None = None, marker: str | None = None
    ) -> list[objects.KeyPair]:
        """The user's key pairs by name; paged with `limit` and `marker` (a name)."""
        ctx, owner = await self._caller("index", user_id)
        return await self.api.conductor.keypair_list(ctx, owner, limit=limit, marker=marker)

    async def delete(self, name: str, *, user_id: str | None = None) -> None:
        """Delete the user's key pair `name`; servers booted with it keep their copy."""
        ctx, owner = await self._caller("delete", user_id)
        await self.api.conductor.keypair_delete(ctx, owner, name)
