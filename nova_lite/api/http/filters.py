"""Query filters that take user input: regular expressions on a linear-time engine.

Nova matches ``GET /servers?name=`` as a regular expression. Python's `re`
backtracks, so a pattern like ``^(a+)+$`` takes exponential time on a name of a few
dozen characters, and while it runs the event loop (and, in the all-in-one process,
every service) stands still. These filters compile the pattern with RE2
(google-re2), whose matching is linear in the text; a pattern RE2 cannot compile
(back-references, look-around) or one longer than `MAX_PATTERN` is refused with 400.
"""

from __future__ import annotations

from collections.abc import Callable

import re2

from nova_lite.exceptions import Invalid

__all__ = ["MAX_PATTERN", "regex_filter"]

MAX_PATTERN = 255  # as long as a name may be
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.max_mem = 1 << 20  # a compiled pattern's memory budget (bytes)


def regex_filter(field: str, pattern: str) -> Callable[[str], bool]:
    """A test of whether a text contains a match of `pattern` (RE2); `Invalid` if refused."""
    if len(pattern) > MAX_PATTERN:
        raise Invalid(
            f"Invalid {field} filter: a pattern may be at most {MAX_PATTERN} characters, "
            f"not {len(pattern)}."
        )
    try:
        compiled = re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise Invalid(
            f"Invalid {field} filter {pattern!r}: not a regular expression this API matches "
            f"in linear time (RE2 syntax: no back-references or look-around): {reason}."
        ) from None
    return lambda text: compiled.search(text) is not None
