"""The bootstrap administrator's generated password, written only for its owner to read."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["PASSWORD_FILE", "generate_password", "write_secret_file"]

PASSWORD_FILE = "admin-password"


def generate_password() -> str:
    """A new random password for the bootstrap administrator."""
    return secrets.token_urlsafe(24)


def write_secret_file(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600, atomically and without following symlinks."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(partial, flags, 0o600), "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # whatever the umask
        handle.write(f"{text}\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
