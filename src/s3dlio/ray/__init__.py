"""Ray integration (extra ``s3dlio[ray]``): Ray Data reads and writes through s3dlio.

Importing this package imports Ray. :func:`read_objects` reads objects or byte ranges in
parallel as a Ray ``Dataset``; :class:`S3dlioDatasink` writes rows back as objects.
"""

from ._data import S3dlioDatasink, S3dlioDatasource, read_objects

__all__ = ["S3dlioDatasink", "S3dlioDatasource", "read_objects"]
