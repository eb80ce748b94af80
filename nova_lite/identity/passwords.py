"""Password hashing with scrypt, in a self-describing format so parameters can change.

A stored hash reads ``$scrypt$n=32768,r=8,p=1$<salt>$<hash>`` (salt and hash in
unpadded URL-safe base64): the algorithm and its cost parameters travel with each
hash, so raising the cost later leaves old hashes verifiable, and `needs_rehash`
tells the caller when to upgrade one after a successful login.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets

import attrs

__all__ = [
    "DEFAULT_PARAMS",
    "Hasher",
    "ScryptParams",
    "hash_password",
    "needs_rehash",
    "verify_password",
]

_ALGORITHM = "scrypt"


@attrs.frozen
class ScryptParams:
    """scrypt's cost parameters: CPU/memory cost `n`, block size `r`, parallelism `p`."""

    n: int = 2**15
    r: int = 8
    p: int = 1
    dklen: int = 32
    salt_bytes: int = 16

    def encode(self) -> str:
        """The parameters as they appear in a stored hash, e.g. ``n=32768,r=8,p=1``."""
        return f"n={self.n},r={self.r},p={self.p}"

    @classmethod
    def decode(cls, text: str, dklen: int) -> ScryptParams:
        """Parse `encode()` output; raises ValueError if it is malformed."""
        fields = dict(item.split("=", 1) for item in text.split(","))
        return cls(n=int(fields["n"]), r=int(fields["r"]), p=int(fields["p"]), dklen=dklen)


DEFAULT_PARAMS = ScryptParams()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, params: ScryptParams) -> bytes:
    # OpenSSL needs 128*r*(n+p+2) bytes; allow twice that.
    maxmem = 256 * params.r * (params.n + params.p + 2)
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=maxmem,
        dklen=params.dklen,
    )


def hash_password(password: str, params: ScryptParams = DEFAULT_PARAMS) -> str:
    """A new stored hash of `password`, with a fresh random salt."""
    salt = secrets.token_bytes(params.salt_bytes)
    digest = _scrypt(password, salt, params)
    return f"${_ALGORITHM}${params.encode()}${_b64(salt)}${_b64(digest)}"


def _parse(encoded: str) -> tuple[ScryptParams, bytes, bytes]:
    empty, algorithm, params_text, salt_text, digest_text = encoded.split("$")
    if empty or algorithm != _ALGORITHM:
        raise ValueError("not an scrypt hash")
    digest = _unb64(digest_text)
    return ScryptParams.decode(params_text, len(digest)), _unb64(salt_text), digest


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches the stored hash `encoded` (False if it is malformed)."""
    try:
        params, salt, expected = _parse(encoded)
    except (ValueError, KeyError, binascii.Error):
        return False
    return hmac.compare_digest(_scrypt(password, salt, params), expected)


def needs_rehash(encoded: str, params: ScryptParams = DEFAULT_PARAMS) -> bool:
    """Whether `encoded` was made with other parameters than `params` (or is unreadable)."""
    try:
        current, _salt, _digest = _parse(encoded)
    except (ValueError, KeyError, binascii.Error):
        return True
    return current.encode() != params.encode() or current.dklen != params.dklen


class Hasher:
    """Hashing and checking off the event loop, with the service's current parameters.

    `verify` of a missing hash (an unknown user, a user without a password) still
    spends one scrypt on a decoy, so a caller cannot tell which users exist by timing.
    """

    def __init__(self, params: ScryptParams = DEFAULT_PARAMS) -> None:
        self.params = params
        self._decoy: str | None = None

    def __repr__(self) -> str:
        return f"<Hasher scrypt {self.params.encode()}>"

    async def hash(self, password: str) -> str:
        """A new stored hash of `password`."""
        return await asyncio.to_thread(hash_password, password, self.params)

    async def verify(self, encoded: str | None, password: str) -> bool:
        """Whether `password` matches `encoded` (False, after the same work, if None)."""
        if encoded is not None:
            return await asyncio.to_thread(verify_password, password, encoded)
        if self._decoy is None:
            self._decoy = await self.hash(secrets.token_urlsafe(24))
        await asyncio.to_thread(verify_password, password, self._decoy)
        return False

    def outdated(self, encoded: str) -> bool:
        """Whether `encoded` should be re-hashed with the current parameters."""
        return needs_rehash(encoded, self.params)
