"""Object-name templates for ``put()``: Python ``str.format`` syntax.

Fields: the first positional field (``{}`` or ``{0}``) receives the object index, the second
(``{}`` again or ``{1}``) the object count. ``{index}`` and ``{num}`` name them explicitly.
Examples: ``sample_{:06d}.npz`` -> ``sample_000042.npz``; ``file_{}_of_{}.bin`` -> ``file_3_of_10.bin``.
"""

from __future__ import annotations

import string

from .generator import check_int

__all__ = ["expand_template", "validate_template"]

_FORMATTER = string.Formatter()


def _format(template: str, index: int, num: int) -> str:
    try:
        return template.format(index, num, index=index, num=num)
    except (ValueError, IndexError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"invalid name template {template!r}: {type(exc).__name__}: {exc}") from None


def expand_template(template: str, index: int, num: int) -> str:
    """Return the name of object ``index`` of ``num`` (``template`` when it has no field)."""
    if not isinstance(template, str):
        raise TypeError(f"template must be a str, got {type(template).__name__}")
    return _format(template, check_int("index", index, 0), check_int("num", num, 1))


def validate_template(template: str, num: int) -> None:
    """Raise ValueError unless ``template`` gives ``num`` distinct, well-formed names.

    A template without a field is only valid for ``num == 1``. Distinctness is checked on the
    first, second and last names, which catches specs that drop the index (e.g. ``{!s:.0}``).
    """
    if not isinstance(template, str):
        raise TypeError(f"template must be a str, got {type(template).__name__}")
    num = check_int("num", num, 1)
    if not template:
        raise ValueError("name template must not be empty")
    try:
        has_field = any(field is not None for _, field, _, _ in _FORMATTER.parse(template))
    except ValueError as exc:
        raise ValueError(f"invalid name template {template!r}: {exc}") from None
    if not has_field and num > 1:
        raise ValueError(
            f"name template {template!r} has no {{}} field for the index, so all {num} objects "
            "would get the same name; use e.g. 'obj_{:06d}.bin'"
        )
    names = {_format(template, i, num) for i in {0, min(1, num - 1), num - 1}}
    if len(names) < min(num, 3):
        raise ValueError(f"name template {template!r} does not give distinct names for {num} objects")
    if any(not name for name in names):
        raise ValueError(f"name template {template!r} expands to an empty name")
