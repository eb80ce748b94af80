"""Where a message goes: the Target, and RPC API version arithmetic."""

from __future__ import annotations

import attrs

from nova_lite.exceptions import MessagingError

__all__ = ["DEFAULT_EXCHANGE", "Target", "parse_version", "version_is_compatible"]

DEFAULT_EXCHANGE = "nova"


@attrs.frozen(kw_only=True)
class Target:
    """Names the destination of a message, or what a Worker or endpoint serves.

    A message goes to the `topic` queue (any worker of that kind), to the
    ``topic.server`` queue (one host) when `server` is set, or to every worker of the
    topic when `fanout` is set. `namespace` and `version` select an endpoint.
    """

    topic: str | None = None
    server: str | None = None
    fanout: bool = False
    exchange: str = "nova"  # DEFAULT_EXCHANGE
    namespace: str | None = None
    version: str | None = None

    @property
    def routing_key(self) -> str:
        """The routing key a request for this target is published with."""
        if self.topic is None:
            raise MessagingError(f"{self!r} has no topic to send to.")
        return f"{self.topic}.{self.server}" if self.server else self.topic

    @property
    def fanout_exchange(self) -> str:
        """The fanout exchange of the topic: oslo.messaging's ``<topic>_fanout``.

        Under a control exchange other than the default ``nova`` it is
        ``<exchange>.<topic>_fanout``, so deployments sharing a vhost stay apart.
        """
        name = f"{self.topic}_fanout"
        return name if self.exchange == DEFAULT_EXCHANGE else f"{self.exchange}.{name}"

    def __str__(self) -> str:
        where = "fanout" if self.fanout else self.routing_key
        return f"{self.exchange}/{where}"


def parse_version(version: str) -> tuple[int, int]:
    """Parse an ``"X.Y"`` RPC API version; raise `MessagingError` if malformed."""
    major, _, minor = str(version).partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        raise MessagingError(f"RPC version {version!r} is not of the form 'MAJOR.MINOR'.") from None


def version_is_compatible(implemented: str, requested: str) -> bool:
    """Whether a server implementing `implemented` can serve `requested`.

    As in oslo.messaging: the same major version, and a minor at least as high.
    """
    have_major, have_minor = parse_version(implemented)
    want_major, want_minor = parse_version(requested)
    return have_major == want_major and have_minor >= want_minor
