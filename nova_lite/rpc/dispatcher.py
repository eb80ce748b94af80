"""Choosing and invoking the endpoint method a request names.

As in oslo.messaging's RPCDispatcher: an endpoint serves a request when its
``target`` namespace equals the request's and its version is compatible (same major,
minor at least the requested one). A request that some endpoint is compatible with
but none has the method of gets `NoSuchMethod`; one no endpoint is compatible with
gets `UnsupportedVersion`. Only public coroutine methods are exposed.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from nova_lite.exceptions import InvalidRpcArguments, NoSuchMethod, UnsupportedVersion
from nova_lite.rpc.envelope import Request
from nova_lite.rpc.target import Target, version_is_compatible

__all__ = ["Dispatcher"]

_DEFAULT_TARGET = Target()


def _endpoint_target(endpoint: object) -> Target:
    target = getattr(endpoint, "target", None)
    return target if isinstance(target, Target) else _DEFAULT_TARGET


class Dispatcher:
    """Finds the endpoint method for a request and checks its arguments."""

    def __init__(self, endpoints: Sequence[object]) -> None:
        self.endpoints = list(endpoints)
        self._signatures: dict[Callable[..., Any], inspect.Signature] = {}

    def resolve(self, request: Request) -> Callable[..., Awaitable[Any]]:
        """The bound endpoint method that serves `request`, or raise why none does."""
        compatible = False
        requested = request.version or "1.0"
        for endpoint in self.endpoints:
            target = _endpoint_target(endpoint)
            if target.namespace != request.namespace:
                continue
            if not version_is_compatible(target.version or "1.0", requested):
                continue
            compatible = True
            method = self._public_method(endpoint, request.method)
            if method is not None:
                return method
        if compatible:
            raise NoSuchMethod(
                f"No endpoint has a method {request.method!r} "
                f"(namespace={request.namespace!r}, version={requested}).",
                method=request.method,
            )
        raise UnsupportedVersion(
            f"No endpoint serves namespace {request.namespace!r} at version {requested} "
            f"(for method {request.method!r}).",
            version=requested,
        )

    @staticmethod
    def _public_method(endpoint: object, name: str) -> Callable[..., Awaitable[Any]] | None:
        if name.startswith("_"):
            return None
        method = getattr(endpoint, name, None)
        if method is None or not inspect.iscoroutinefunction(method):
            return None
        return method  # type: ignore[no-any-return]

    def check_arguments(self, method: Callable[..., Any], args: dict[str, Any]) -> None:
        """Raise `InvalidRpcArguments` if `method(ctx, **args)` would not bind."""
        signature = self._signatures.get(method)
        if signature is None:
            signature = self._signatures[method] = inspect.signature(method)
        try:
            signature.bind(None, **args)
        except TypeError as exc:
            raise InvalidRpcArguments(
                f"Bad arguments for {method.__name__!r}: {exc}.", method=method.__name__
            ) from None
