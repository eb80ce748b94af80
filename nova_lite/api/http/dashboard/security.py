"""The dashboard's session cookie, its CSRF tokens, and the headers of every page.

Signing in turns a Keystone password into a token, and the token is the session:
it is held in the ``nova_lite_session`` cookie, ``HttpOnly`` (page scripts cannot
read it), ``SameSite=Strict`` (no other site's page can make the browser send it),
``Path=/dashboard``, ``Secure`` when the dashboard is served over TLS, and it lasts
as long as the token. Nothing else is kept: every page validates the token with
identity, and signing out revokes it.

Every form that POSTs carries a CSRF token in a hidden field, and a POST without
the right one is refused (403) before anything else runs. The token is an HMAC, under
a key this process draws at start, of the session's value: the Keystone token once
signed in, else a random ``nova_lite_presession`` cookie set with the sign-in form
(so that the sign-in form itself cannot be forged either). It is per session, needs
no server-side store, and a restart of the API process makes old forms stale.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets

from aiohttp import web

from nova_lite.objects import TokenInfo, utcnow

__all__ = [
    "CSRF_FIELD",
    "PRESESSION_COOKIE",
    "SESSION_COOKIE",
    "CsrfKey",
    "forget_session",
    "keep_presession",
    "presession_of",
    "remember_session",
    "secure_headers",
    "served_over_tls",
]

SESSION_COOKIE = "nova_lite_session"
PRESESSION_COOKIE = "nova_lite_presession"
CSRF_FIELD = "csrf_token"
COOKIE_PATH = "/dashboard"
PRESESSION_SECONDS = 3600

# Scripts and styles from the dashboard itself only: no inline code, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class CsrfKey:
    """The process's key for CSRF tokens: a token per session, checked in constant time."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def __repr__(self) -> str:
        return "<CsrfKey>"  # never the key

    def token_for(self, session: str) -> str:
        """The CSRF token of the session whose cookie value is `session`."""
        return hmac.new(self._key, b"csrf:" + session.encode(), hashlib.sha256).hexdigest()

    def checks(self, session: str, token: object) -> bool:
        """Whether `token` (a form field) is the session's CSRF token."""
        if not session or not isinstance(token, str):
            return False
        return hmac.compare_digest(self.token_for(session), token)


def served_over_tls(request: web.Request, public_url: str) -> bool:
    """Whether the browser reaches the dashboard over TLS (here, or at an https proxy)."""
    return request.secure or public_url.startswith("https://")


def remember_session(
    response: web.StreamResponse, token: str, info: TokenInfo, *, secure: bool
) -> None:
    """Hold `token` in the session cookie for as long as the token lasts."""
    lifetime = max(0, int((info.expires_at - utcnow()) / datetime.timedelta(seconds=1)))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=lifetime,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=secure,
    )
    response.del_cookie(PRESESSION_COOKIE, path=COOKIE_PATH)


def forget_session(response: web.StreamResponse) -> None:
    """Drop the session cookie (signed out, or the token is no longer valid)."""
    response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)


def presession_of(request: web.Request) -> str:
    """The anonymous session of the sign-in form: the cookie's value, or a new one."""
    value = request.cookies.get(PRESESSION_COOKIE, "")
    return value if len(value) >= 32 else secrets.token_urlsafe(32)


def keep_presession(response: web.StreamResponse, value: str, *, secure: bool) -> None:
    """Hold the sign-in form's anonymous session in its cookie (for an hour)."""
    response.set_cookie(
        PRESESSION_COOKIE,
        value,
        max_age=PRESESSION_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=secure,
    )


def secure_headers(response: web.StreamResponse) -> None:
    """What every dashboard response says to the browser: no inline scripts, no framing,
    no sniffing, no caching of pages that show a user's servers."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
