"""File formats shared by data generation and the loader (no I/O, no data generation here).

``parquet``: layouts of synthetic Parquet files, footer parsing, row-group extents and decoding
(pyarrow, from the ``[parquet]`` extra, imported when first used). ``s3dlio.datagen`` and
``s3dlio.loader`` import this package; it imports neither.
"""

from __future__ import annotations

__all__: list[str] = []
