"""Ray integrations (the ``[ray]`` extra; Ray is imported when a function here is first called).

``s3dlio.ray.put(...)``: ``s3dlio.put()`` fanned out over a Ray cluster as tasks, one index range
each, with the same objects, names and bytes as one process writing them all.
"""

from __future__ import annotations

from ._put import put

__all__ = ["put"]
