"""Request bodies compressed the same way every time (gzip with a zero mtime).

Apart from the cloud API helpers so that a sink or encoder that only compresses (S3
objects, the Splunk HEC body) does not import ``requests``.
"""

from __future__ import annotations

import zlib

__all__ = ["gzip_bytes"]


def gzip_bytes(data: bytes, level: int = 1) -> bytes:
    """gzip (RFC 1952) with a zero mtime, so the same input always gives the same bytes."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()
