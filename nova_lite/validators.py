"""What a valid name is, for every service; and the argument checks the services share.

Names follow the rule of the OpenStack service that owns the resource, so a name
OpenStack takes is taken here and one it refuses is refused. Where the rules differ
here, they differ there:

======================  =========  ==========  ===========  ====================================
name                    length     empty       None         also
======================  =========  ==========  ===========  ====================================
server (Nova)           1-255      refused     refused      printable; no space at either end
key pair (Nova)         1-255      refused     refused      letters, digits, ``_``, ``-``, space
image (Glance)          0-255      allowed     stored ""    -
network (Neutron)       0-255      allowed     refused      -
volume (Cinder)         0-255 [1]  allowed     stored ""    -
user (Keystone)         1-255      refused     refused      not only whitespace
project (Keystone)      1-64       refused     refused      not only whitespace
======================  =========  ==========  ===========  ====================================

[1] Cinder counts the length without leading and trailing whitespace.

"None" is JSON ``null``: Glance and Cinder accept it as "no name", stored here as
the empty string (never as the text ``"None"``); Nova, Neutron and Keystone refuse it.
A name is never anything but a string: ``5`` is refused, not stored as ``"5"``.

One rule is nova_lite's own, on top of every service's: no name may contain a
control character (Unicode category Cc: NUL, tab, newline, escape, ...). Names end
up in tables, logs and libvirt XML, where such characters do harm. (Nova's rule
already refuses them, with the rest of Unicode's "other" categories.)

Every check raises `Invalid` with a message that names the field and the bad value.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from nova_lite.exceptions import Invalid

__all__ = [
    "MAX_NAME",
    "MAX_PROJECT_NAME",
    "boolean",
    "image_name",
    "keypair_name",
    "loose_boolean",
    "network_name",
    "optional_text",
    "project_name",
    "server_name",
    "text",
    "text_list",
    "user_name",
    "volume_name",
]

MAX_NAME = 255
"""The longest name of every resource but projects (OpenStack's limit)."""
MAX_PROJECT_NAME = 64
"""The longest project name (Keystone's ``project.name`` column)."""


# -- names -----------------------------------------------------------------------------


def server_name(value: object, field: str = "name") -> str:
    """A Nova name: of a server, or of the image a server's snapshot or backup makes.

    Nova's ``parameter_types.name``: 1-255 characters, all printable (no Unicode
    "other" character, category C*, and no line or paragraph separator, Zl/Zp), and
    not starting or ending with a space separator (Zs, which includes the plain space).
    """
    name = _string(field, value)
    _length(field, name, 1, MAX_NAME)
    for char in name:
        category = unicodedata.category(char)
        if category.startswith("C") or category in ("Zl", "Zp"):
            raise Invalid(
                f"{field} {name!r:.80} contains {_char(char)}, which is not printable.",
                field=field,
            )
    if unicodedata.category(name[0]) == "Zs" or unicodedata.category(name[-1]) == "Zs":
        raise Invalid(f"{field} {name!r:.80} must not start or end with a space.", field=field)
    return name


KEYPAIR_NAME_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_- "
)


def keypair_name(value: object, field: str = "name") -> str:
    """A Nova key pair name: a server name made only of ASCII letters, digits, ``_ -``.

    Nova's ``keypair_name_special_chars`` (``^[_\\- a-zA-Z0-9]+$``), up to
    microversion 2.91; no space at either end, as every Nova name.
    """
    name = server_name(value, field)
    wrong = sorted(set(name) - KEYPAIR_NAME_CHARACTERS)
    if wrong:
        raise Invalid(
            f"Keypair name {name!r:.80} contains {wrong[0]!r}: a key pair name may contain "
            "only letters, digits, '_', '-' and spaces.",
            field=field,
        )
    return name


def image_name(value: object, field: str = "name") -> str:
    """A Glance image name: up to 255 characters, possibly empty; None (no name) is ``""``.

    Glance's image schema: ``{"type": ["null", "string"], "maxLength": 255}``.
    """
    if value is None:
        return ""
    return _plain(field, _string(field, value), 0, MAX_NAME)


def network_name(value: object, field: str = "name") -> str:
    """A Neutron network name: up to 255 characters, possibly empty; None is refused.

    Neutron's ``type:string`` with ``NAME_MAX_LEN`` (255), default ``""``: a request
    without a name gets ``""``, and a ``null`` name is not a valid string.
    """
    return _plain(field, _string(field, value), 0, MAX_NAME)


def volume_name(value: object, field: str = "name") -> str:
    """A Cinder volume name: up to 255 characters not counting leading and trailing
    whitespace, possibly empty; None (no name) is ``""``.

    Cinder's ``name_non_mandatory_remove_white_spaces`` format. The name is kept as
    given; only its length is measured without the surrounding whitespace.
    """
    if value is None:
        return ""
    name = _string(field, value)
    if len(name.strip()) > MAX_NAME:
        raise Invalid(
            f"{field} must be at most {MAX_NAME} characters long without the whitespace "
            f"around it, not {len(name.strip())}: {name!r:.80}.",
            field=field,
        )
    return _no_control(field, name)


def user_name(value: object, field: str = "name") -> str:
    """A Keystone user name: 1-255 characters, at least one of them not whitespace.

    Keystone's ``_identity_name``: ``minLength`` 1, ``maxLength`` 255, pattern ``\\S``.
    """
    return _not_blank(field, _plain(field, _string(field, value), 1, MAX_NAME))


def project_name(value: object, field: str = "name") -> str:
    """A Keystone project name: 1-64 characters, at least one of them not whitespace.

    Keystone's project ``_name_properties``: ``maxLength`` 64 (its column's size), the
    rest as for user names.
    """
    return _not_blank(field, _plain(field, _string(field, value), 1, MAX_PROJECT_NAME))


def _string(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string, not {value!r:.80}.", field=field)
    return value


def _length(field: str, name: str, shortest: int, longest: int) -> None:
    if not shortest <= len(name) <= longest:
        span = f"at most {longest}" if shortest == 0 else f"{shortest} to {longest}"
        raise Invalid(
            f"{field} must be {span} characters long, not {len(name)}: {name!r:.80}.",
            field=field,
        )


def _plain(field: str, name: str, shortest: int, longest: int) -> str:
    """`name` if its length is allowed and it holds no control character."""
    _length(field, name, shortest, longest)
    return _no_control(field, name)


def _no_control(field: str, name: str) -> str:
    for char in name:
        if unicodedata.category(char) == "Cc":
            raise Invalid(
                f"{field} {name!r:.80} contains {_char(char)}, a control character.",
                field=field,
            )
    return name


def _not_blank(field: str, name: str) -> str:
    if not name.strip():
        raise Invalid(f"{field} {name!r:.80} must not be only whitespace.", field=field)
    return name


def _char(char: str) -> str:
    return f"U+{ord(char):04X} ({unicodedata.name(char, unicodedata.category(char))})"


# -- other arguments ---------------------------------------------------------------------


def text(field: str, value: object, *, max_length: int = 255, empty: bool = False) -> str:
    """`value` if it is a string of at most `max_length` characters, not blank unless
    `empty`: ids and host names given to an endpoint."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string, not {value!r:.80}.", field=field)
    if not value.strip() and not empty:
        raise Invalid(f"{field} must not be empty.", field=field)
    if len(value) > max_length:
        raise Invalid(
            f"{field} {value[:40]!r}... is longer than {max_length} characters.", field=field
        )
    return value


def optional_text(field: str, value: object) -> str | None:
    """`value` if it is None or a non-blank string (see `text`)."""
    return None if value is None else text(field, value)


def boolean(field: str, value: object) -> bool:
    """`value` if it is a real boolean (not 0/1 or a string)."""
    if not isinstance(value, bool):
        raise Invalid(f"{field} must be true or false, not {value!r:.80}.", field=field)
    return value


TRUE_SPELLINGS = frozenset({"1", "t", "true", "on", "y", "yes"})
FALSE_SPELLINGS = frozenset({"0", "f", "false", "off", "n", "no"})


def loose_boolean(field: str, value: object) -> bool:
    """Nova's boolean parameter: true or false, or one of oslo's spellings of them.

    Nova's APIs take ``"True"``, ``"yes"``, ``"0"``, ... wherever a boolean goes
    (``parameter_types.boolean``, read by ``strutils.bool_from_string(strict=True)``);
    anything else is `Invalid` naming the field.
    """
    if isinstance(value, bool):
        return value
    spelled = str(value).strip().lower() if isinstance(value, str | int) else None
    if spelled in TRUE_SPELLINGS:
        return True
    if spelled in FALSE_SPELLINGS:
        return False
    raise Invalid(
        f"Invalid input for field/attribute {field}. Value: {value!r:.80}. "
        "It must be a boolean (true, false, or one of their spellings: yes, no, 1, 0, ...).",
        field=field,
    )


def text_list(field: str, value: object) -> list[str]:
    """`value` as a list if it is a list (or tuple) of non-blank strings."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise Invalid(f"{field} must be a list of ids, not {value!r:.80}.", field=field)
    return [text(f"{field}[{i}]", item) for i, item in enumerate(value)]
