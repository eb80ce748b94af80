"""Marking the methods that are callable over RPC.

A method is on the bus only if it says so with `@endpoint`: helpers, lifecycle hooks
and anything else public on a manager stay local. This is the explicit list that
oslo.messaging leaves to convention ("every public method of an endpoint object"),
and that convention is how unintended methods end up callable by any peer on the
broker. `rpc_methods()` is what the dispatcher serves and what the tests compare
with each service's ``rpcapi`` class.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["endpoint", "is_endpoint", "rpc_methods"]

_MARK = "__nova_lite_rpc_endpoint__"

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def endpoint(method: F) -> F:
    """Mark a coroutine method ``(self, ctx, **kwargs)`` as callable over RPC."""
    function: object = method  # checked without narrowing `method`'s own type
    if not inspect.iscoroutinefunction(function):
        raise TypeError(f"@endpoint needs a coroutine function, not {method!r}.")
    if method.__name__.startswith("_"):
        raise TypeError(f"@endpoint method {method.__qualname__} must not be private.")
    setattr(method, _MARK, True)
    return method


def is_endpoint(method: object) -> bool:
    """Whether `method` (a function or a bound method) was marked with `@endpoint`."""
    return bool(getattr(method, _MARK, False))


def rpc_methods(obj: object) -> dict[str, Callable[..., Awaitable[Any]]]:
    """The `@endpoint` methods of `obj`, bound, by name."""
    return {name: getattr(obj, name) for name in _endpoint_names(type(obj))}


# The endpoint names of each class, found once: a cloud of 10,000 hosts serves the
# same compute classes 10,000 times, and the search (every attribute of the class,
# looked up statically) was a third of its start-up.
_NAMES: weakref.WeakKeyDictionary[type, tuple[str, ...]] = weakref.WeakKeyDictionary()


def _endpoint_names(cls: type) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        found = []
        for name in dir(cls):
            if name.startswith("_"):
                continue
            attribute = inspect.getattr_static(cls, name, None)
            if isinstance(attribute, staticmethod | classmethod):
                continue
            if callable(attribute) and is_endpoint(attribute):
                found.append(name)
        names = _NAMES[cls] = tuple(found)
    return names
