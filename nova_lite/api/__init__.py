"""The nova-api role: the library entry point (authenticate, then act on servers)."""

from __future__ import annotations

from nova_lite.api.client import NovaAPI, Session
from nova_lite.api.views import Server

__all__ = ["NovaAPI", "Server", "Session"]
