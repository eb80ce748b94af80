"""Every exception nova_lite raises, in one tree with one root.

Leaves also inherit the builtin they resemble, so callers can catch either::

    NovaLiteError
    ├── ConfigError(ValueError)                  bad configuration value or file
    ├── PluginNotFound(LookupError)              unknown transport/driver name
    ├── TransportError                           anything the broker layer reports
    │   ├── TransportClosed(ConnectionError)     used after close, or closed under a call
    │   ├── TransportUnreachable(ConnectionError) cannot connect to the broker
    │   ├── TopologyError(ValueError)            bad exchange/queue declaration or binding
    │   └── MessageUndeliverable(LookupError)    mandatory publish that no queue took
    ├── MessagingError                           RPC-level failures
    │   ├── MessagingTimeout(TimeoutError)       no reply within the timeout
    │   ├── MessageDecodeError(ValueError)       a message that cannot be decoded
    │   ├── NoSuchMethod(AttributeError)         no endpoint has that method
    │   ├── InvalidRpcArguments(TypeError)       the method exists; the arguments do not fit
    │   ├── UnsupportedVersion(ValueError)       no endpoint serves that version
    │   └── RemoteError                          an endpoint raised a non allow-listed error
    └── NovaError                                service-level faults (boot flow, lifecycle)
        ├── NotAuthorized / Forbidden / NotFound / Invalid / Conflict ...

Only classes from this module (and those a caller allow-lists) are rebuilt on the
caller's side when an endpoint raises them; anything else arrives as `RemoteError`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "Conflict",
    "Forbidden",
    "Invalid",
    "InvalidRpcArguments",
    "MessageDecodeError",
    "MessageUndeliverable",
    "MessagingError",
    "MessagingTimeout",
    "NoSuchMethod",
    "NotAuthorized",
    "NotFound",
    "NovaError",
    "NovaLiteError",
    "PluginNotFound",
    "RemoteError",
    "TopologyError",
    "TransportClosed",
    "TransportError",
    "TransportUnreachable",
    "UnsupportedVersion",
]


class NovaLiteError(Exception):
    """The root of every exception nova_lite raises."""

    def __init__(self, message: str = "", **kwargs: Any) -> None:
        super().__init__(message)
        self.message = message
        self.kwargs = kwargs

    def __str__(self) -> str:
        return self.message


class ConfigError(NovaLiteError, ValueError):
    """A configuration file, key or value is invalid."""


class PluginNotFound(NovaLiteError, LookupError):
    """A transport or driver name that no loader knows."""


class TransportError(NovaLiteError):
    """A failure reported by the transport (broker) layer."""


class TransportClosed(TransportError, ConnectionError):
    """The transport was closed, before or while an operation used it."""


class TransportUnreachable(TransportError, ConnectionError):
    """The broker could not be reached."""


class TopologyError(TransportError, ValueError):
    """An exchange, queue or binding was declared inconsistently or refers to nothing."""


class MessageUndeliverable(TransportError, LookupError):
    """A mandatory message was not routed to any queue."""


class MessagingError(NovaLiteError):
    """A failure of the RPC layer (call, cast, dispatch)."""


class MessagingTimeout(MessagingError, TimeoutError):
    """An rpc call received no reply within its timeout."""


class MessageDecodeError(MessagingError, ValueError):
    """A message body is not a valid nova_lite/oslo envelope."""


class NoSuchMethod(MessagingError, AttributeError):
    """No endpoint of the Worker exposes the requested method."""


class InvalidRpcArguments(MessagingError, TypeError):
    """The endpoint method exists but the message's arguments do not fit its signature."""


class UnsupportedVersion(MessagingError, ValueError):
    """No endpoint of the Worker can serve the requested namespace and version."""


class RemoteError(MessagingError):
    """An endpoint raised an exception that is not allow-listed for re-raising.

    Carries the remote class name, its message and the remote traceback text.
    """

    def __init__(self, exc_type: str = "", value: str = "", traceback: str = "") -> None:
        super().__init__(
            f"Remote error: {exc_type} {value}\n{traceback}".rstrip(),
            exc_type=exc_type,
            value=value,
            traceback=traceback,
        )
        self.exc_type = exc_type
        self.value = value
        self.traceback = traceback


class NovaError(NovaLiteError):
    """A service-level fault, with the HTTP-like code Nova gives it."""

    code = 500


class NotAuthorized(NovaError, PermissionError):
    """The credentials or token are missing, wrong, expired or revoked."""

    code = 401


class Forbidden(NovaError, PermissionError):
    """The caller is authenticated but the policy does not allow the action."""

    code = 403


class NotFound(NovaError, LookupError):
    """The resource does not exist, or is invisible to the caller."""

    code = 404


class Invalid(NovaError, ValueError):
    """The request is malformed or names values that are not allowed."""

    code = 400


class Conflict(NovaError):
    """The request conflicts with the current state of the resource."""

    code = 409
