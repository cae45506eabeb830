"""``python -m s3dlio.cli``: the same as the ``s3dlio`` console script."""

from . import main

main()
