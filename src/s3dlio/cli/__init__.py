"""The ``s3dlio`` command line: a thin client of the public API (``pip install 's3dlio[cli]'``).

Commands: ``ls``, ``stat``, ``cp``, ``sync``, ``rm``, ``mb``, ``rb``, ``cat``, ``gen``, ``bench``
and ``ckpt ls|verify|rm``. See ``docs/cli.md``.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``s3dlio`` console script."""
    try:
        from .app import run
    except ImportError as exc:  # click or rich missing
        print(
            f"s3dlio: the command line needs the [cli] extra ({exc.name} is missing): "
            "pip install 's3dlio[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    run(argv)
