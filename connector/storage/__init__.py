"""Object stores (S3, GCS, Azure) as extract outputs and load inputs and results; see docs/destinations/object-stores.md.

Behind extras: ``connector[s3]`` (s3fs), ``connector[gcs]`` (gcsfs), ``connector[azure]`` (adlfs).
"""

from ..errors import StoreUnreachableError
from .location import (
    S3Settings,
    StoreLocation,
    is_url,
    local_or_url,
    open_filesystem,
    scratch_root,
)
from .sink import SUCCESS_MARKER, ObjectStoreSink
from .transfer import Store

__all__ = [
    "SUCCESS_MARKER",
    "ObjectStoreSink",
    "S3Settings",
    "Store",
    "StoreLocation",
    "StoreUnreachableError",
    "is_url",
    "local_or_url",
    "open_filesystem",
    "scratch_root",
]
