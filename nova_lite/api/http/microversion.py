"""Compute API microversions: parse what a request asks for, answer what it gets.

A request names its version in ``OpenStack-API-Version: compute 2.42`` or the older
``X-OpenStack-Nova-API-Version: 2.42``; without either it gets the base version 2.1,
and ``latest`` means the newest one served. A version outside ``MIN_VERSION`` to
``MAX_VERSION`` is refused with 406, a malformed one with 400, as Nova does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from nova_lite.exceptions import Invalid, NotAcceptable

__all__ = ["MAX_VERSION", "MIN_VERSION", "APIVersion", "negotiate", "response_headers"]

_FORMAT = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@attrs.frozen(order=True)
class APIVersion:
    """A microversion, ``major.minor``, ordered as numbers (2.10 comes after 2.9)."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        """The version `text` names; `Invalid` unless it is ``<major>.<minor>``."""
        match = _FORMAT.match(text.strip())
        if match is None:
            raise Invalid(
                f"API version string {text!r} is not in the format 'major.minor' "
                "(for example 2.1) or 'latest'."
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def at_least(self, text: str) -> bool:
        """Whether this version is `text` or newer."""
        return self >= APIVersion.parse(text)


MIN_VERSION = APIVersion(2, 1)
MAX_VERSION = APIVersion(2, 79)


def _requested(headers: Mapping[str, str]) -> str | None:
    standard = headers.get("OpenStack-API-Version")
    if standard:
        for item in standard.split(","):
            service, _, version = item.strip().partition(" ")
            if service.lower() == "compute":
                return version.strip()
    return headers.get("X-OpenStack-Nova-API-Version")


def negotiate(headers: Mapping[str, str]) -> APIVersion:
    """The version a compute request gets; `NotAcceptable` for one not served."""
    requested = _requested(headers)
    if requested is None or not requested.strip():
        return MIN_VERSION
    if requested.strip().lower() == "latest":
        return MAX_VERSION
    version = APIVersion.parse(requested)
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise NotAcceptable(
            f"Version {version} is not supported by the API. Minimum is {MIN_VERSION} "
            f"and maximum is {MAX_VERSION}."
        )
    return version


def response_headers(version: APIVersion) -> dict[str, str]:
    """The headers a compute response carries to say which version answered."""
    return {
        "OpenStack-API-Version": f"compute {version}",
        "X-OpenStack-Nova-API-Version": str(version),
        "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
    }
