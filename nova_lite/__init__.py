"""nova_lite: a compact asyncio re-implementation of OpenStack Nova's architecture.

The public names of the messaging core::

    from nova_lite import Target, Invoker, Worker, RequestContext, endpoint, get_transport
"""

from __future__ import annotations

from nova_lite.config import Config
from nova_lite.context import RequestContext
from nova_lite.loader import get_transport
from nova_lite.rpc import Invoker, ObjectSerializer, Target, Worker, endpoint

__all__ = [
    "Config",
    "Invoker",
    "ObjectSerializer",
    "RequestContext",
    "Target",
    "Worker",
    "endpoint",
    "get_transport",
]

__version__ = "0.1.0"
