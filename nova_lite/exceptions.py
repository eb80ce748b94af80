"""Every exception nova_lite raises, in one tree with one root.

Leaves also inherit the builtin they resemble, so callers can catch either::

    NovaLiteError
    ├── ConfigError(ValueError)                  bad configuration value or file
    │   └── PolicyError                          a policy rule or file that cannot be used
    ├── PluginNotFound(LookupError)              unknown transport/driver name
    ├── TransportError                           anything the broker layer reports
    │   ├── TransportClosed(ConnectionError)     used after close, or closed under a call
    │   ├── TransportUnreachable(ConnectionError) cannot connect to the broker
    │   ├── ConnectionLost(ConnectionError)      the broker went away under a call (retryable)
    │   ├── TopologyError(ValueError)            bad exchange/queue declaration or binding
    │   └── MessageUndeliverable(LookupError)    mandatory publish that no queue took
    ├── MessagingError                           RPC-level failures
    │   ├── MessagingTimeout(TimeoutError)       no reply within the timeout
    │   ├── MessageDecodeError(ValueError)       a message that cannot be decoded
    │   ├── MessageTooLarge                      a reply over [rpc] max_message_bytes
    │   ├── NoSuchMethod(AttributeError)         no endpoint has that method
    │   ├── InvalidRpcArguments(Invalid, TypeError) the arguments do not fit the method
    │   ├── UnsupportedVersion(ValueError)       no endpoint serves that version
    │   └── RemoteError                          an endpoint raised a non allow-listed error
    └── NovaError                                service-level faults (boot flow, lifecycle)
        ├── NotAuthorized(PermissionError)       401: bad, expired or revoked credentials
        ├── Forbidden(PermissionError)           403: PolicyNotAuthorized, QuotaExceeded
        ├── NotFound(LookupError)                404: InstanceNotFound, ImageNotFound,
        │                                             KeypairNotFound, ...
        │                                             SubnetNotFound, SecurityGroupNotFound, ...
        ├── Invalid(ValueError)                  400: bad input (ImageChecksumMismatch,
        │                                             MarkerNotFound)
        ├── NotAcceptable(ValueError)            406: an API microversion not served
        ├── Conflict                             409: InstanceInvalidState, InstanceLocked,
        │                                             InstanceNotReady, UnexpectedTaskStateError,
        │                                             IpAddressExhausted,
        │                                             NetworkInUse, SubnetInUse, ... (Neutron's)
        ├── ImageLimitExceeded                   413: too many image tags, members or properties
        ├── NoValidHost, RescheduledException, BuildAbortException
        └── HypervisorError                      a driver operation failed

Only classes from this module (and those a caller allow-lists) are rebuilt on the
caller's side when an endpoint raises them; anything else arrives as `RemoteError`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BuildAbortException",
    "ConfigError",
    "Conflict",
    "ConnectionLost",
    "FlavorNotFound",
    "FloatingIpNotFound",
    "Forbidden",
    "HypervisorError",
    "ImageChecksumMismatch",
    "ImageLimitExceeded",
    "ImageNotFound",
    "InstanceInvalidState",
    "InstanceLocked",
    "InstanceNotFound",
    "InstanceNotReady",
    "Invalid",
    "InvalidRpcArguments",
    "IpAddressExhausted",
    "IpAddressInUse",
    "KeypairNotFound",
    "MacAddressInUse",
    "MarkerNotFound",
    "MessageDecodeError",
    "MessageTooLarge",
    "MessageUndeliverable",
    "MessagingError",
    "MessagingTimeout",
    "NetworkInUse",
    "NetworkNotFound",
    "NoSuchMethod",
    "NoValidHost",
    "NotAcceptable",
    "NotAuthorized",
    "NotFound",
    "NovaError",
    "NovaLiteError",
    "PluginNotFound",
    "PolicyError",
    "PolicyNotAuthorized",
    "PortNotFound",
    "QuotaExceeded",
    "RemoteError",
    "RescheduledException",
    "RouterNotFound",
    "SecurityGroupInUse",
    "SecurityGroupNotFound",
    "SecurityGroupRuleExists",
    "SecurityGroupRuleNotFound",
    "SubnetInUse",
    "SubnetNotFound",
    "SubnetPoolNotFound",
    "TopologyError",
    "TransportClosed",
    "TransportError",
    "TransportUnreachable",
    "UnexpectedDeletingTaskStateError",
    "UnexpectedTaskStateError",
    "UnsupportedVersion",
    "UserNotFound",
    "VolumeInvalidState",
    "VolumeNotFound",
    "VolumeSnapshotNotFound",
    "VolumeTypeNotFound",
    "WaitTimeout",
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


class PolicyError(ConfigError):
    """A policy rule that cannot be parsed, a policy file that cannot be read, or an
    unknown rule name."""


class PluginNotFound(NovaLiteError, LookupError):
    """A transport or driver name that no loader knows."""


class TransportError(NovaLiteError):
    """A failure reported by the transport (broker) layer."""


class TransportClosed(TransportError, ConnectionError):
    """The transport was closed, before or while an operation used it."""


class TransportUnreachable(TransportError, ConnectionError):
    """The broker could not be reached."""


class ConnectionLost(TransportError, ConnectionError):
    """The connection to the broker dropped while a call waited for its reply.

    The request may or may not have been carried out; retrying is safe for
    idempotent calls. The transport reconnects by itself.
    """


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


class MessageTooLarge(MessagingError):
    """A reply would pass ``[rpc] max_message_bytes``: the caller gets this at once
    instead of waiting out its timeout for a reply its side would refuse."""


class NoSuchMethod(MessagingError, AttributeError):
    """No endpoint of the Worker exposes the requested method."""


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


class InvalidRpcArguments(Invalid, MessagingError, TypeError):
    """The endpoint method exists but the request's arguments do not fit its signature.

    Raised before the method runs, for a missing or unexpected argument or one whose
    type does not match the method's annotation. ``kwargs`` name the `method`, the
    `argument` (with its path inside a container, e.g. ``networks[2]``), what was
    `expected` and what was `got`. It is an `Invalid` (400): the caller sent it.
    """


class NotAcceptable(NovaError, ValueError):
    """The request asks for an API version (a microversion) this server does not serve."""

    code = 406


class Conflict(NovaError):
    """The request conflicts with the current state of the resource."""

    code = 409


# -- service-level leaves (the names Nova uses) -----------------------------


class PolicyNotAuthorized(Forbidden):
    """The policy rule guarding the action does not let this caller perform it."""


class QuotaExceeded(Forbidden):
    """The request would take the project over one of its quotas."""


class MarkerNotFound(Invalid):
    """A page was asked after a marker that names no item of the list (Nova's
    MarkerNotFound, which its API answers with 400: the request is wrong)."""


class InstanceNotFound(NotFound):
    """No instance with that id is visible to the caller."""


class FlavorNotFound(NotFound):
    """No flavor with that id or name."""


class ImageNotFound(NotFound):
    """No image with that id is visible to the caller."""


class KeypairNotFound(NotFound):
    """The user has no key pair of that name."""


class NetworkNotFound(NotFound):
    """No network with that id is visible to the caller."""


class PortNotFound(NotFound):
    """No port with that id."""


class SubnetNotFound(NotFound):
    """No subnet with that id is visible to the caller."""


class SecurityGroupNotFound(NotFound):
    """No security group with that id (or name) is visible to the caller."""


class SecurityGroupRuleNotFound(NotFound):
    """No security group rule with that id is visible to the caller."""


class RouterNotFound(NotFound):
    """No router with that id is visible to the caller."""


class FloatingIpNotFound(NotFound):
    """No floating IP with that id is visible to the caller (or, Neutron's
    ExternalGatewayForFloatingIPNotFound, no router reaches the external network)."""


class SubnetPoolNotFound(NotFound):
    """No subnet pool with that id is visible to the caller."""


class VolumeNotFound(NotFound):
    """No volume with that id is visible to the caller."""


class VolumeSnapshotNotFound(NotFound):
    """No volume snapshot with that id is visible to the caller."""


class VolumeTypeNotFound(NotFound):
    """No volume type with that id or name is visible to the caller."""


class UserNotFound(NotFound):
    """No user (or project) with that name or id."""


class NoValidHost(NovaError):
    """The scheduler found no host that passes every filter."""

    code = 500


class RescheduledException(NovaError):
    """A build failed on one host in a way another host may not repeat."""


class BuildAbortException(NovaError):
    """A build failed in a way that rescheduling cannot fix."""


class ImageLimitExceeded(NovaError):
    """An image would exceed one of Glance's per-image limits (tags, members, properties)."""

    code = 413


class ImageChecksumMismatch(Invalid):
    """Downloaded image bytes do not match the image's recorded checksum."""


class IpAddressExhausted(Conflict):
    """A subnet's allocation pool has no free address left."""


class NetworkInUse(Conflict):
    """A network still has ports (or a router's gateway) on it (Neutron's NetworkInUse)."""


class SubnetInUse(Conflict):
    """A subnet still has addresses given to ports (Neutron's SubnetInUse)."""


class SecurityGroupInUse(Conflict):
    """A security group is applied to ports, or is a project's default group."""


class SecurityGroupRuleExists(Conflict):
    """The same rule is already in the security group (Neutron's SecurityGroupRuleExists)."""


class MacAddressInUse(Conflict):
    """Another port of the network has that MAC address (Neutron's MacAddressInUse)."""


class IpAddressInUse(Conflict):
    """The fixed IP is already given to a port (Neutron's IpAddressAlreadyAllocated)."""


class InstanceInvalidState(Conflict):
    """The action is not allowed in the instance's current vm_state/task_state."""


class InstanceNotReady(Conflict):
    """The instance is on no host (not built yet, or shelved offloaded): Nova's 409."""


class UnexpectedTaskStateError(Conflict):
    """A compare-and-swap save found a task_state other than the expected one."""


class UnexpectedDeletingTaskStateError(UnexpectedTaskStateError):
    """A save during a build found the instance being deleted: the delete wins."""


class InstanceLocked(Conflict):
    """The instance is locked and the caller may not act on it."""


class VolumeInvalidState(Conflict):
    """The volume's status does not allow the operation."""


class WaitTimeout(NovaLiteError, TimeoutError):
    """A server did not reach the awaited status in time."""


class HypervisorError(NovaError):
    """The hypervisor driver failed an operation."""
