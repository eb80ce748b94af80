"""Pages from jinja2 templates, escaped by default.

The templates live in ``templates/`` beside this module and are loaded once per
process. Autoescaping is on for every template, so a server name such as
``<script>`` is shown, never run; nothing is marked safe anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from aiohttp import web

__all__ = ["Templates"]


class Templates:
    """The dashboard's templates, rendered into HTML responses."""

    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader(__package__ or __name__, "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,  # a misspelt name fails the page, loudly
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def __repr__(self) -> str:
        return f"<Templates {sorted(self.env.list_templates())}>"

    def html(self, name: str, context: Mapping[str, Any]) -> str:
        """The text of template `name` rendered with `context`."""
        return self.env.get_template(name).render(context)

    def page(self, name: str, context: Mapping[str, Any], *, status: int = 200) -> web.Response:
        """An HTML response of template `name` rendered with `context`."""
        return web.Response(text=self.html(name, context), status=status, content_type="text/html")
