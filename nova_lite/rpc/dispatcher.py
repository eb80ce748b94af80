"""Choosing and invoking the endpoint method a request names.

As in oslo.messaging's RPCDispatcher: an endpoint serves a request when its
``target`` namespace equals the request's and its version is compatible (same major,
minor at least the requested one). A request that some endpoint is compatible with
but none has the method of gets `NoSuchMethod`; one no endpoint is compatible with
gets `UnsupportedVersion`. Only methods marked `@endpoint` are exposed: a public
helper or lifecycle hook of a manager is never callable from the bus.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs

from nova_lite.exceptions import InvalidRpcArguments, NoSuchMethod, UnsupportedVersion
from nova_lite.rpc.endpoint import rpc_methods
from nova_lite.rpc.envelope import Request
from nova_lite.rpc.target import Target, version_is_compatible
from nova_lite.structuring import ArgumentMismatch, Hook, describe, strict_hook

__all__ = ["Dispatcher", "Signature", "signature_of"]

_DEFAULT_TARGET = Target()


def _endpoint_target(endpoint: object) -> Target:
    target = getattr(endpoint, "target", None)
    return target if isinstance(target, Target) else _DEFAULT_TARGET


class Dispatcher:
    """Finds the endpoint method for a request and checks its arguments against its types.

    Each method's signature is read once (`signature_of`, cached per function): the
    names, which are required, and a strict structuring hook per annotation
    (`nova_lite.structuring`). A request whose arguments do not fit raises
    `InvalidRpcArguments` naming the method, the argument and what was expected,
    before the method runs.
    """

    def __init__(self, endpoints: Sequence[object]) -> None:
        self.endpoints = list(endpoints)
        self._methods = [rpc_methods(endpoint) for endpoint in self.endpoints]
        self._resolved: dict[tuple[str | None, str | None, str], Callable[..., Any]] = {}
        self._signatures: dict[Callable[..., Any], Signature] = {}
        for methods in self._methods:  # every signature read and compiled up front
            for method in methods.values():
                function = getattr(method, "__func__", method)
                self._signatures[function] = signature_of(function)

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

    def structure_arguments(
        self, method: Callable[..., Any], args: dict[str, Any]
    ) -> dict[str, Any]:
        """`args` checked against `method`'s annotations; raise `InvalidRpcArguments`.

        Values come back as the method's types expect them (a JSON array for a
        ``tuple[...]`` as a tuple, an int for a ``float`` as a float); nothing else
        is coerced.
        """
        function = getattr(method, "__func__", method)  # hashable, unlike some endpoints
        signature = self._signatures.get(function)
        if signature is None:
            signature = self._signatures[function] = signature_of(function)
        return signature.structure(method.__name__, args)


@functools.cache
def _signature_of_function(function: Callable[..., Any]) -> Signature:
    return Signature.of(function)


def signature_of(method: Callable[..., Any]) -> Signature:
    """The checked signature of an endpoint method (bound or not), made once per function."""
    return _signature_of_function(getattr(method, "__func__", method))


@attrs.frozen
class _Parameter:
    name: str
    annotation: Any
    hook: Hook
    required: bool
    none_default: bool  # ``= None``: None is accepted whatever the annotation says
    # The fast path: a value of exactly this type fits as it is, with no hook called
    # (str, int, bool, float, dict[str, Any], an attrs class).
    exact: type | None = None


def _exact_type(annotation: Any) -> type | None:
    if annotation in (str, int, bool, float):
        return annotation  # type: ignore[no-any-return]
    if annotation == dict[str, Any]:
        return dict
    if isinstance(annotation, type) and attrs.has(annotation):
        return annotation
    return None


@attrs.frozen
class Signature:
    """What an endpoint method accepts after ``ctx``: names, types, which are required."""

    parameters: dict[str, _Parameter]
    any_kw: bool

    @classmethod
    def of(cls, function: Callable[..., Any]) -> Signature:
        """Read `function`'s signature and annotations (resolved in its module's globals).

        Raises TypeError naming the method if an annotation cannot be resolved: a
        typed boundary cannot check what it cannot name.
        """
        try:
            hints = typing.get_type_hints(function)
        except Exception as exc:
            raise TypeError(
                f"Cannot resolve the annotations of endpoint {function.__qualname__}: {exc}"
            ) from exc
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        params = list(inspect.signature(function).parameters.values())[2:]  # self, ctx
        parameters = {}
        for p in params:
            if p.kind not in kinds:
                continue
            annotation = hints.get(p.name, Any)
            parameters[p.name] = _Parameter(
                p.name,
                annotation,
                strict_hook(annotation),
                p.default is inspect.Parameter.empty,
                p.default is None,
                _exact_type(annotation),
            )
        return cls(parameters, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params))

    def structure(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """The checked arguments, or raise `InvalidRpcArguments` about the first bad one."""
        result: dict[str, Any] = {}
        named = 0
        for name, value in args.items():
            param = self.parameters.get(name)
            if param is None:
                if not self.any_kw:
                    raise _unexpected(method, set(args).difference(self.parameters))
                result[name] = value
                continue
            named += 1
            if type(value) is param.exact or (value is None and param.none_default):
                result[name] = value
                continue
            try:
                result[name] = param.hook(value, param.annotation)
            except ArgumentMismatch as exc:
                raise _mismatch(method, param, exc) from None
        if named < len(self.parameters):  # some left out: were any of them required?
            missing = [
                p.name for p in self.parameters.values() if p.required and p.name not in args
            ]
            if missing:
                raise _missing(method, [self.parameters[n] for n in missing])
        return result


def _mismatch(method: str, param: _Parameter, exc: ArgumentMismatch) -> InvalidRpcArguments:
    where = f"{param.name}{exc.path}"
    return InvalidRpcArguments(
        f"Invalid argument for {method!r}: {where} must be {exc.phrase}, not {exc.got}.",
        method=method,
        argument=where,
        expected=exc.expected,
        got=exc.got,
    )


def _missing(method: str, params: list[_Parameter]) -> InvalidRpcArguments:
    names = ", ".join(p.name for p in params)
    expected = ", ".join(f"{p.name}: {describe(p.annotation)}" for p in params)
    return InvalidRpcArguments(
        f"Missing required argument(s) {names} for {method!r} (expected {expected}).",
        method=method,
        argument=names,
        expected=expected,
        got="nothing",
    )


def _unexpected(method: str, names: set[str]) -> InvalidRpcArguments:
    listed = ", ".join(sorted(names))
    return InvalidRpcArguments(
        f"Unexpected argument(s) {listed} for {method!r}.",
        method=method,
        argument=listed,
        expected="no such argument",
        got="an argument",
    )
