"""The dashboard: the cloud in a browser, served by the API's HTTP server at /dashboard.

Server-rendered pages (jinja2, autoescaped) with one small script of plain
JavaScript and no build step. A user signs in with their Keystone password; the
token is the session, held in an HttpOnly, SameSite=Strict cookie, and every POST
carries a per-session CSRF token (`security`). Each page is made from the same HTTP
API the CLI and openstacksdk use, called over loopback with the user's token
(`rest`), so the dashboard can do nothing its user could not do with ``openstack``;
it never touches the bus.

    /dashboard/login, /logout          sign in and out (`auth`)
    /dashboard/servers                 the project's servers, with the actions their
                                       states allow (`actions`); ?all_projects=1 (admins)
    /dashboard/servers/new             launch: flavor, image, network, key pair if any
    /dashboard/servers/{id}            state, actions, instance actions, console (`pages`)
    /dashboard/hosts, /projects        compute hosts' utilization, every project (`admin`)
"""

from __future__ import annotations

from aiohttp import web

from nova_lite.api.http.dashboard import admin, auth, pages
from nova_lite.api.http.dashboard.app import dashboard_app

__all__ = ["PREFIX", "mount"]

PREFIX = "/dashboard"


def mount(app: web.Application) -> None:
    """Serve the dashboard at ``/dashboard`` in the API's application `app`."""
    app.add_subapp(PREFIX, dashboard_app(auth.routes, pages.routes, admin.routes))
