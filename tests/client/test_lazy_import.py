"""``import s3dlio`` is light (issue 12 item 7): PEP 562 lazy names, h5py in the ``[hdf5]`` extra.

Each check runs in a fresh interpreter, since this test process has imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = [
    "h5py",
    "numpy",
    "torch",
    "tensorflow",
    "jax",
    "s3dlio.loader",
    "s3dlio.checkpoint",
    "s3dlio.datagen",
]


def _modules_after(code: str) -> list[str]:
    program = f"import sys, json\n{code}\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_loads_no_heavy_module() -> None:
    assert _modules_after("import s3dlio") == []


def test_core_operations_load_no_loader_checkpoint_or_hdf5() -> None:
    code = (
        "import s3dlio, tempfile\n"
        "d = tempfile.mkdtemp()\n"
        "s3dlio.put_bytes(f'file://{d}/a', b'x')\n"
        "assert s3dlio.get(f'file://{d}/a') == b'x'\n"
        "assert len(s3dlio.list(f'file://{d}/')) == 1\n"
        "c = s3dlio.Client()\n"
        "assert c.get(f'file://{d}/a') == b'x'\n"
    )
    # NumPy may load: the transfer engine allocates result memory with numpy.empty (owned,
    # uninitialised). What must not load is the loader, checkpoint machinery, h5py or a framework.
    assert [m for m in _modules_after(code) if m != "numpy"] == []


def test_lazy_names_load_on_first_use() -> None:
    assert _modules_after("import s3dlio\ns3dlio.CheckpointStore") == ["numpy", "s3dlio.checkpoint"]
    assert "s3dlio.loader" in _modules_after("import s3dlio\ns3dlio.create_dataset")
    assert "h5py" not in _modules_after(
        "import s3dlio\ns3dlio.put\ns3dlio.create_dataset\ns3dlio.CheckpointStore"
    )


def test_every_public_name_resolves_and_dir_lists_it() -> None:
    import s3dlio

    for name in s3dlio.__all__:
        assert getattr(s3dlio, name) is not None, name
    assert set(s3dlio.__all__) <= set(dir(s3dlio))
    with pytest.raises(AttributeError, match="no_such_name"):
        s3dlio.no_such_name  # type: ignore[attr-defined]  # noqa: B018


@pytest.mark.parametrize(
    "call",
    [
        "from s3dlio.datagen import make_hdf5; make_hdf5(1024)",
        "from s3dlio.loader.decoders import decode_hdf5; decode_hdf5(b'')",
    ],
)
def test_missing_h5py_names_the_extra(call: str) -> None:
    program = (
        "import sys\nsys.modules['h5py'] = None  # as if h5py were not installed\n"
        f"try:\n    {call}\nexcept ImportError as exc:\n    print(exc)\nelse:\n    print('no error')\n"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert "pip install 's3dlio[hdf5]'" in out.stdout, out.stdout + out.stderr
