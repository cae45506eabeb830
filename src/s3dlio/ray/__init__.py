"""Ray integration (extra ``s3dlio[ray]``).

* :func:`read_objects` reads objects or byte ranges in parallel as a Ray ``Dataset``;
  :class:`S3dlioDatasink` writes rows back as objects (Ray Data).
* :func:`put` is ``s3dlio.put()`` fanned out over a Ray cluster as tasks, one index range each,
  with the same objects, names and bytes as one process writing them all.

Importing this package imports Ray.
"""

from __future__ import annotations

from ._data import S3dlioDatasink, S3dlioDatasource, read_objects
from ._put import put

__all__ = ["S3dlioDatasink", "S3dlioDatasource", "put", "read_objects"]
