"""Choosing and invoking the endpoint method a request names.

As in oslo.messaging's RPCDispatcher: an endpoint serves a request when its
``target`` namespace equals the request's and its version is compatible (same major,
minor at least the requested one). A request that some endpoint is compatible with
but none has the method of gets `NoSuchMethod`; one no endpoint is compatible with
gets `UnsupportedVersion`. Only methods marked `@endpoint` are exposed: a public
helper or lifecycle hook of a manager is never callable from the bus.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from nova_lite.exceptions import InvalidRpcArguments, NoSuchMethod, UnsupportedVersion
from nova_lite.rpc.endpoint import rpc_methods
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
        self._methods = [rpc_methods(endpoint) for endpoint in self.endpoints]
        self._resolved: dict[tuple[str | None, str | None, str], Callable[..., Any]] = {}
        self._parameters: dict[str, _Parameters] = {}

    def resolve(self, request: Request) -> Callable[..., Awaitable[Any]]:
        """The bound endpoint method that serves `request`, or raise why none does."""
        key = (request.namespace, request.version, request.method)
        method = self._resolved.get(key)
        if method is None:
            method = self._resolved[key] = self._search(request)
        return method

    def _search(self, request: Request) -> Callable[..., Awaitable[Any]]:
        compatible = False
        requested = request.version or "1.0"
        for endpoint, methods in zip(self.endpoints, self._methods, strict=True):
            target = _endpoint_target(endpoint)
            if target.namespace != request.namespace:
                continue
            if not version_is_compatible(target.version or "1.0", requested):
                continue
            compatible = True
            method = methods.get(request.method)
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

    def check_arguments(self, method: Callable[..., Any], args: dict[str, Any]) -> None:
        """Raise `InvalidRpcArguments` if `method(ctx, **args)` would not bind."""
        name = method.__name__
        params = self._parameters.get(name)
        if params is None:
            params = self._parameters[name] = _Parameters.of(method)
        problem = params.problem(args)
        if problem:
            raise InvalidRpcArguments(f"Bad arguments for {name!r}: {problem}.", method=name)


class _Parameters:
    """The keyword arguments an endpoint method accepts and requires (after ctx)."""

    def __init__(self, accepted: frozenset[str], required: frozenset[str], any_kw: bool) -> None:
        self.accepted = accepted
        self.required = required
        self.any_kw = any_kw

    @classmethod
    def of(cls, method: Callable[..., Any]) -> _Parameters:
        params = list(inspect.signature(method).parameters.values())[1:]  # skip ctx
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        named = [p for p in params if p.kind in kinds]
        return cls(
            frozenset(p.name for p in named),
            frozenset(p.name for p in named if p.default is inspect.Parameter.empty),
            any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params),
        )

    def problem(self, args: dict[str, Any]) -> str | None:
        missing = self.required.difference(args)
        if missing:
            return f"missing required argument(s) {', '.join(sorted(missing))}"
        if not self.any_kw:
            unexpected = set(args).difference(self.accepted)
            if unexpected:
                return f"unexpected argument(s) {', '.join(sorted(unexpected))}"
        return None
