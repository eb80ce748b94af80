"""Rebuilding an endpoint's exception on the caller's side, from an allow-list only.

Turning arbitrary class names from the network into live objects would let a peer
instantiate anything importable; like oslo.messaging (``allowed_remote_exmods``) and
nameko, only exception classes from allow-listed modules are rebuilt. Everything
else becomes `RemoteError`, carrying the class name, message and traceback text.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Mapping
from typing import Any

from nova_lite.exceptions import NovaLiteError, RemoteError

__all__ = ["DEFAULT_ALLOWED_MODULES", "rebuild_exception"]

DEFAULT_ALLOWED_MODULES: tuple[str, ...] = ("nova_lite.exceptions",)


def rebuild_exception(
    failure: Mapping[str, Any], allowed_modules: Collection[str] = DEFAULT_ALLOWED_MODULES
) -> Exception:
    """The exception a reply's failure describes, rebuilt only if its module is allowed."""
    cls_name = str(failure.get("class", "Exception"))
    module_name = str(failure.get("module", ""))
    message = str(failure.get("message", ""))
    tb = "".join(failure.get("tb") or [])
    cls = _allowed_class(module_name, cls_name, allowed_modules)
    if cls is None or cls is RemoteError:
        return RemoteError(cls_name, message, tb)
    exc: Exception = cls.__new__(cls)
    if isinstance(exc, NovaLiteError):
        kwargs = failure.get("kwargs") or {}
        Exception.__init__(exc, message)
        exc.message = message
        exc.kwargs = dict(kwargs) if isinstance(kwargs, Mapping) else {}
        for key, value in exc.kwargs.items():
            if not hasattr(type(exc), key):
                setattr(exc, key, value)
    else:
        Exception.__init__(exc, *(failure.get("args") or [message]))
    exc.add_note(f"Raised remotely:\n{tb}".rstrip())
    return exc


def _allowed_class(
    module_name: str, cls_name: str, allowed_modules: Collection[str]
) -> type[Exception] | None:
    if module_name not in allowed_modules:
        return None
    try:
        cls = getattr(importlib.import_module(module_name), cls_name, None)
    except ImportError:
        return None
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls
    return None
