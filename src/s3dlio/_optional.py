"""Optional dependencies: import on first use, or fail naming the extra that provides them."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``; if it is missing, an ImportError that names ``pip install s3dlio[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{purpose} needs {module}, which is not installed: pip install 's3dlio[{extra}]'",
            name=module,
        ) from exc
