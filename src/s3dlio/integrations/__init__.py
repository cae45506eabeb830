"""Integrations with third-party tools: :mod:`s3dlio.integrations.dlio` (the DLIO benchmark)."""
