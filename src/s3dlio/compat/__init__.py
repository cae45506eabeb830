"""Names of the original s3dlio (and of s3torchconnector) that its real clients call.

MLPerf Storage's DLIO and mlc-storage's checkpoint code use these; all are exported from
``s3dlio`` too. ``s3dlio.compat.s3torchconnector`` is imported on its own (it needs torch).

* :class:`MultipartUploadWriter`: streaming multipart upload (``from_uri``, ``write``, ``close``).
* :class:`PyWriterOptions`, :class:`PyObjectWriter`, ``create_s3_writer``,
  ``create_azure_writer``, ``create_filesystem_writer``, ``create_direct_filesystem_writer``:
  the streaming writers of mlc-storage's checkpoint code.
* :func:`generate_npz_bytes`: a complete NPZ sample file in one pass.
* :func:`configure_tokio_threads`: sizes obstore's Tokio runtime, before it starts.
"""

from .multipart import MultipartUploadWriter, UploadStats
from .npz import generate_npz_bytes
from .runtime import configure_tokio_threads
from .writers import (
    PyObjectWriter,
    PyWriterOptions,
    create_azure_writer,
    create_direct_filesystem_writer,
    create_filesystem_writer,
    create_s3_writer,
)

__all__ = [
    "MultipartUploadWriter",
    "PyObjectWriter",
    "PyWriterOptions",
    "UploadStats",
    "configure_tokio_threads",
    "create_azure_writer",
    "create_direct_filesystem_writer",
    "create_filesystem_writer",
    "create_s3_writer",
    "generate_npz_bytes",
]
