"""s3dlio.integrations.dlio: install S3dlioStorage into a DLIO tree and drive it like DLIO does.

DLIO is not a library at the right version on PyPI, so the test writes a small stand-in of the
DLIO modules S3dlioStorage imports, with the upstream names and signatures:
dlio_benchmark/storage/storage_handler.py (DataStorage, Namespace), common/enumerations.py,
common/constants.py, utils/config.py (ConfigArguments) and utils/utility.py (Profile).
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import s3dlio
from s3dlio.integrations import dlio as integration

_STAND_IN = {
    "__init__.py": "",
    "common/__init__.py": "",
    "common/constants.py": "MODULE_STORAGE = 'storage'\n",
    "common/enumerations.py": """
        from enum import Enum

        class MetadataType(Enum):
            FILE = 'file'
            DIRECTORY = 'directory'
            S3_OBJECT = 's3_object'

        class NamespaceType(Enum):
            FLAT = 'flat'
            HIERARCHICAL = 'Hierarchical'
        """,
    "storage/__init__.py": "",
    "storage/storage_handler.py": """
        from abc import ABC
        from dlio_benchmark.utils.config import ConfigArguments

        class Namespace:
            def __init__(self, name, type):
                self.name = name
                self.type = type

        class DataStorage(ABC):
            def __init__(self, framework=None):
                self._args = ConfigArguments.get_instance()
                self.framework = None
                self.is_framework_nativeio_available = False
        """,
    "utils/__init__.py": "",
    "utils/config.py": """
        class ConfigArguments:
            _instance = None

            def __init__(self):
                self.storage_options = {}

            @classmethod
            def get_instance(cls):
                if cls._instance is None:
                    cls._instance = cls()
                return cls._instance
        """,
    "utils/utility.py": """
        class Profile:
            def __init__(self, module):
                self.module = module

            def log(self, function):
                return function

            def log_init(self, function):
                return function
        """,
}


@pytest.fixture
def dlio_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    package = tmp_path / "dlio" / "dlio_benchmark"
    for name, text in _STAND_IN.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path / "dlio"))
    yield package
    for module in [m for m in sys.modules if m.startswith("dlio_benchmark")]:
        del sys.modules[module]


def test_install_and_patch(dlio_tree: Path, tmp_path: Path) -> None:
    installed = integration.install_s3dlio_storage(dlio_tree)
    assert Path(installed) == dlio_tree / "storage" / "s3dlio_storage.py"
    assert Path(installed).read_text() == integration.get_s3dlio_storage_content()
    patch = integration.generate_patch(output_file=str(tmp_path / "p.patch"))
    assert "S3DLIO = 's3dlio'" in Path(patch).read_text() and "S3dlioStorage" in integration.PATCH
    with pytest.raises(FileNotFoundError):
        integration.install_s3dlio_storage(tmp_path / "not-dlio")


def test_storage_class_drives_every_backend(dlio_tree: Path, root: str) -> None:
    integration.install_s3dlio_storage(dlio_tree)
    storage_module = importlib.import_module("dlio_benchmark.storage.s3dlio_storage")
    enums = importlib.import_module("dlio_benchmark.common.enumerations")
    storage = storage_module.S3dlioStorage(root + "ns", None)
    assert storage.get_uri("train/a.npz") == root + "ns/train/a.npz"
    assert storage.create_namespace(exist_ok=True) and storage.create_node("train", exist_ok=True)
    storage.put_data("train/a.npz", b"abc")
    import io

    storage.put_data("train/b.npz", io.BytesIO(b"\x01" * (33 * 1024 * 1024)))  # multipart path
    assert storage.get_node("train/a.npz") == enums.MetadataType.FILE
    assert storage.get_node("train") == enums.MetadataType.DIRECTORY
    assert storage.get_node("nothing") is None
    assert storage.walk_node("train") == ["a.npz", "b.npz"]
    assert bytes(storage.get_data("train/a.npz")) == b"abc"
    assert bytes(storage.get_data("train/b.npz", None, 5, 3)) == b"\x01" * 3
    assert storage.isfile("train/a.npz") and not storage.isfile("train/zzz")
    assert storage.get_basename("train/a.npz") == "a.npz"
    storage.delete_node("train/a.npz")
    assert storage.walk_node("train") == ["b.npz"]
    storage.delete_node("train")
    assert s3dlio.list(root) == []


def test_storage_module_needs_dlio() -> None:
    sys.modules.pop("s3dlio.integrations.dlio.s3dlio_storage", None)
    with pytest.raises(ImportError):
        importlib.import_module("s3dlio.integrations.dlio.s3dlio_storage")
