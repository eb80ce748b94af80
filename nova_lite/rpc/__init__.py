"""Nova's RPC over a message broker: rpc.call and rpc.cast between Invoker and Worker."""

from __future__ import annotations

from nova_lite.rpc.endpoint import endpoint, rpc_methods
from nova_lite.rpc.invoker import DirectConsumer, Invoker, TopicPublisher
from nova_lite.rpc.serializer import ObjectSerializer, Serializer
from nova_lite.rpc.target import Target, version_is_compatible
from nova_lite.rpc.worker import DirectPublisher, TopicConsumer, Worker

__all__ = [
    "DirectConsumer",
    "DirectPublisher",
    "Invoker",
    "ObjectSerializer",
    "Serializer",
    "Target",
    "TopicConsumer",
    "TopicPublisher",
    "Worker",
    "endpoint",
    "rpc_methods",
    "version_is_compatible",
]
