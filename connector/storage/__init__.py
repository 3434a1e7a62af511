"""Object stores (S3, GCS, Azure) as extract outputs and load inputs and results; see docs/destinations/object-stores.md.

Behind extras: ``connector[s3]`` (s3fs), ``connector[gcs]`` (gcsfs), ``connector[azure]`` (adlfs).
"""

from ..errors import StoreUnreachableError
from .location import (
    StoreLocation,
    is_url,
    local_or_url,
    open_filesystem,
    scratch_root,
)
from .settings import AzureSettings, GCSSettings, S3Settings, StoreSettings
from .sink import SUCCESS_MARKER, ObjectStoreSink
from .transfer import Store

__all__ = [
    "SUCCESS_MARKER",
    "AzureSettings",
    "GCSSettings",
    "ObjectStoreSink",
    "S3Settings",
    "Store",
    "StoreLocation",
    "StoreSettings",
    "StoreUnreachableError",
    "is_url",
    "local_or_url",
    "open_filesystem",
    "scratch_root",
]
