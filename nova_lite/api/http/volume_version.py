"""Block storage API microversions: what a volume request asks for, what answers it.

A request names its version in ``OpenStack-API-Version: volume 3.42`` (Cinder reads
no other header); without one it gets 3.0, and ``latest`` means the newest served.
A version outside 3.0 to `MAX_VERSION` is refused with 406, a malformed one with
400, as Cinder does. Every response of the v3 API says which version answered.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from nova_lite.api.http.microversion import APIVersion
from nova_lite.exceptions import NotAcceptable

__all__ = [
    "MAX_VERSION",
    "MIN_VERSION",
    "VOLUME_MICROVERSION",
    "negotiate",
    "response_headers",
    "version_of",
]

MIN_VERSION = APIVersion(3, 0)
MAX_VERSION = APIVersion(3, 70)
VOLUME_MICROVERSION = web.RequestKey("volume_microversion", APIVersion)


def _requested(headers: Mapping[str, str]) -> str | None:
    for item in headers.get("OpenStack-API-Version", "").split(","):
        service, _, version = item.strip().partition(" ")
        if service.lower() in ("volume", "block-storage"):
            return version.strip()
    return None


def negotiate(headers: Mapping[str, str]) -> APIVersion:
    """The version a volume request gets; `NotAcceptable` for one not served."""
    requested = _requested(headers)
    if not requested:
        return MIN_VERSION
    if requested.lower() == "latest":
        return MAX_VERSION
    version = APIVersion.parse(requested)
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise NotAcceptable(
            f"Version {version} is not supported by the API. Minimum is {MIN_VERSION} "
            f"and maximum is {MAX_VERSION}."
        )
    return version


def response_headers(version: APIVersion) -> dict[str, str]:
    """The headers a volume response carries to say which version answered."""
    return {"OpenStack-API-Version": f"volume {version}", "Vary": "OpenStack-API-Version"}


def version_of(request: web.Request) -> APIVersion:
    """The microversion this volume request negotiated (3.0 if none was)."""
    if VOLUME_MICROVERSION not in request:
        return MIN_VERSION
    return request[VOLUME_MICROVERSION]
