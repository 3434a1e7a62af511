"""Object-store URLs (``s3://``, ``gs://``, ``az://``), the filesystem that serves each, and its errors.

    s3://BUCKET/KEY                  Amazon S3 and S3-compatible stores      extra: connector[s3]   (s3fs)
    gs://BUCKET/KEY   gcs://...      Google Cloud Storage                    extra: connector[gcs]  (gcsfs)
    az://CONTAINER/KEY  abfs://...   Azure Blob Storage / ADLS Gen2          extra: connector[azure] (adlfs)
    abfs[s]://CONTAINER@ACCOUNT.dfs.core.windows.net/KEY

Credentials and endpoints come only from each ecosystem's own conventions, read by its SDK: the AWS
variables and profiles (``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_S3``; ``AWS_REGION`` too, which botocore alone ignores), Google's application default
credentials, Azure's ``AZURE_STORAGE_*`` variables or its default credential chain. An orchestrator that
holds store credentials itself (an Airflow connection, a Dagster resource) hands them over in-process as
settings (:mod:`.settings`), never through ``os.environ``. No URL may carry a user, password, query or fragment, so
no secret can reach a report, a log line or an error.

Third-party errors become connector errors here and nowhere else (:func:`store_error`).
"""

from __future__ import annotations

import importlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..destinations.urls import DUCKDB_SCHEMES, POSTGRES_SCHEMES
from ..errors import ConfigError, ConnectorError, StoreUnreachableError
from .s3session import lean_session
from .settings import AzureSettings, S3Settings, StoreSettings

__all__ = [
    "SCHEMES",
    "S3Settings",
    "StoreLocation",
    "StoreSettings",
    "error_code",
    "filesystem_options",
    "is_url",
    "local_or_url",
    "missing_bucket",
    "open_filesystem",
    "scratch_root",
    "store_error",
]

_log = logging.getLogger(__name__)

# scheme -> (store, extra, module that provides it, fsspec protocol)
SCHEMES: dict[str, tuple[str, str, str, str]] = {
    "s3": ("S3", "s3", "s3fs", "s3"),
    "gs": ("Google Cloud Storage", "gcs", "gcsfs", "gcs"),
    "gcs": ("Google Cloud Storage", "gcs", "gcsfs", "gcs"),
    "az": ("Azure Blob Storage", "azure", "adlfs", "abfs"),
    "abfs": ("Azure Blob Storage", "azure", "adlfs", "abfs"),
    "abfss": ("Azure Blob Storage", "azure", "adlfs", "abfs"),
}
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")  # two letters at least: C:\x is a Windows path
_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_GCS_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_AZ_CONTAINER = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
_AZ_HOST = re.compile(r"([a-z0-9]{3,24})\.(?:dfs|blob)\.core\.windows\.net")
S3_PART_BYTES = (
    5 * 2**20
)  # multipart chunk: S3's minimum; with 2 in flight the upload holds ~20 MB at most (measured)
S3_PARTS_IN_FLIGHT = 2


def is_url(text: str | os.PathLike[str]) -> bool:
    """True when ``text`` is written as a URL (``scheme://...``), known scheme or not."""
    return isinstance(text, str) and _URL.match(text) is not None


def local_or_url(text: str) -> str | Path:
    """An argparse type: a URL (``s3://...``) as written (a Path would fold its ``//``), else a local path."""
    return text if is_url(text) else Path(text)


def _refused(message: str, hint: str) -> ConfigError:
    error = ConfigError(message)
    error.hint = hint
    return error


@dataclass(frozen=True)
class StoreLocation:
    """One object or prefix in a store: ``scheme://bucket/key``; ``account`` only for Azure URLs that name it."""

    scheme: str
    bucket: str
    key: str
    account: str | None = None

    @classmethod
    def parse(cls, url: str, what: str = "--output") -> StoreLocation:
        """Parse ``url``; ConfigError (naming ``what``) for an unknown scheme or a malformed bucket or key."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            # --output also takes database URLs (the CLI routes those before this parse)
            known = list(SCHEMES) + (list(DUCKDB_SCHEMES + POSTGRES_SCHEMES) if what == "--output" else [])
            listed = ", ".join(f"{s}://" for s in known)
            raise _refused(
                f"{what} {url}: unknown URL scheme {scheme}://", f"use a local path or one of {listed}"
            )
        if parts.query or parts.fragment or "?" in url or "#" in url:
            raise _refused(
                f"{what}: an object-store URL takes no ?query or #fragment",
                "credentials go in the store's environment variables or profiles, never in the URL",
            )
        netloc = parts.netloc
        account = None
        if scheme in ("abfs", "abfss") and "@" in netloc:
            netloc, host = netloc.split("@", 1)
            found = _AZ_HOST.fullmatch(host.lower())
            if found is None:
                raise _refused(
                    f"{what} {scheme}://{netloc}@...: the host must be ACCOUNT.dfs.core.windows.net",
                    "or write az://CONTAINER/KEY and set AZURE_STORAGE_ACCOUNT_NAME",
                )
            account = found.group(1)
        elif "@" in netloc or ":" in netloc:
            # user:password@ or a port: never echo it, it may hold a secret
            raise _refused(
                f"{what}: a {scheme}:// URL takes no user, password or port",
                "credentials go in the store's environment variables or profiles, never in the URL",
            )
        pattern = {"s3": _S3_BUCKET, "gs": _GCS_BUCKET, "gcs": _GCS_BUCKET}.get(scheme, _AZ_CONTAINER)
        if not pattern.fullmatch(netloc) or ".." in netloc:
            raise _refused(
                f"{what} {scheme}://{netloc[:70]}: not a valid bucket or container name",
                "bucket names are 3-63 lower-case letters, digits, dots and hyphens",
            )
        key = parts.path.lstrip("/")
        segments = key.rstrip("/").split("/")
        if not key.rstrip("/") or any(s in ("", ".", "..") for s in segments):
            # a bucket's root is no output either: a dataset there would share it with whatever else it holds
            dataset = f", or a prefix such as {scheme}://{netloc}/attio/meetings for --partition-by"
            raise _refused(
                f"{what} {scheme}://{netloc}/{key}: name an object under the bucket",
                f"e.g. {scheme}://{netloc}/attio/meetings.parquet{dataset if what == '--output' else ''} "
                "(no empty, '.' or '..' parts)",
            )
        return cls(
            "gs" if scheme == "gcs" else "az" if scheme == "abfss" else scheme,
            netloc,
            key.rstrip("/"),
            account,
        )

    @property
    def url(self) -> str:
        """The URL as shown in reports: no credentials can be in it."""
        return f"{self.scheme}://{self.bucket}/{self.key}"

    @property
    def store(self) -> str:
        """The store's name for messages: S3, Google Cloud Storage or Azure Blob Storage."""
        return SCHEMES[self.scheme][0]

    @property
    def path(self) -> str:
        """The fsspec path: ``bucket/key``."""
        return f"{self.bucket}/{self.key}"

    def child(self, name: str) -> StoreLocation:
        """The object ``name`` (relative, ``/``-separated) below this prefix."""
        return StoreLocation(self.scheme, self.bucket, f"{self.key}/{name}", self.account)

    def __str__(self) -> str:
        return self.url


def open_filesystem(location: StoreLocation, settings: StoreSettings | None = None) -> Any:
    """An fsspec filesystem for ``location``'s store, configured from the environment, or from ``settings`` (of
    that store) where they say something.

    A missing extra is a ConfigError naming the ``pip install`` to run. No instance cache: the
    environment (endpoint, profile) is read afresh for every run.
    """
    options = filesystem_options(location, settings)
    _, extra, module, protocol = SCHEMES[location.scheme]
    try:
        importlib.import_module(module)
        import fsspec
    except ModuleNotFoundError as exc:
        raise _refused(
            f"{location.scheme}:// URLs need the {module} package, which is not installed",
            f"pip install 'connector[{extra}]'",
        ) from exc
    _quiet_abandoned_tasks(fsspec)
    if protocol == "gcs":
        # gcsfs's default class (ExtendedGcsFileSystem) first asks the gRPC Storage Control API for every
        # bucket's layout, for appends and folder renames that the connector never does: a request more per
        # bucket, and a warning on stderr wherever that API is not served (emulators). Plain JSON API instead.
        return importlib.import_module("gcsfs.core").GCSFileSystem(**options)
    if protocol == "s3":
        # botocore's data files read leaner: the client is kept through the fetch (:mod:`.s3session`)
        options["session"] = lean_session()
    return fsspec.filesystem(protocol, **options)


def filesystem_options(location: StoreLocation, settings: StoreSettings | None = None) -> dict[str, Any]:
    """The keyword arguments of ``location``'s fsspec filesystem (s3fs, gcsfs, adlfs): the environment's
    conventions that the SDK does not read itself, then ``settings`` (refused when they are another store's)."""
    if settings is not None and location.scheme not in settings.schemes:
        raise _refused(
            f"{SCHEMES[settings.schemes[0]][0]} credentials were given for {location.url}, which is on "
            f"{location.store}",
            "give each store's settings (its connection or resource) for its own URLs only",
        )
    options: dict[str, Any] = {"skip_instance_cache": True}
    if location.scheme == "s3":
        # botocore reads AWS_DEFAULT_REGION, not the AWS_REGION that the other AWS SDKs and the CLI read.
        region = os.environ.get("AWS_REGION")
        if isinstance(settings, S3Settings) and settings.region:
            region = settings.region
        elif os.environ.get("AWS_DEFAULT_REGION"):
            region = None
        if region:
            options["client_kwargs"] = {"region_name": region}
        options["max_concurrency"] = S3_PARTS_IN_FLIGHT
    elif location.scheme == "gs":
        emulator = os.environ.get("STORAGE_EMULATOR_HOST", "")
        if emulator not in ("", "default") and not os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
            # As Google's own client does: an emulator takes no credentials, and looking for them (the
            # metadata server among them) costs seconds. A key file named in the environment still goes.
            options["token"] = "anon"
    elif location.account:  # abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/...
        named = settings.account_name if isinstance(settings, AzureSettings) else None
        if named and named != location.account:
            raise _refused(
                f"{location.url}: the URL names the account {location.account}, the Azure settings {named}",
                "name one account: write az://CONTAINER/KEY, or leave the settings' account name empty",
            )
        options["account_name"] = location.account
    options.update(settings.options() if settings is not None else {})
    return options


def _quiet_abandoned_tasks(fsspec: Any) -> None:
    """Log at debug level, not as a traceback on stderr, the part uploads that s3fs abandons when one fails.

    s3fs gathers a multipart upload's parts; when the store goes away, the parts still in flight fail too
    and asyncio reports each as "Task exception was never retrieved". The failure itself is raised, once,
    as a :class:`StoreUnreachableError`; the handler is set on fsspec's own I/O loop only.
    """
    loop = fsspec.asyn.get_loop()

    def handler(loop: Any, context: dict[str, Any]) -> None:
        if "exception" in context and context.get("message") == "Task exception was never retrieved":
            _log.debug("abandoned upload task: %r", context["exception"])
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def scratch_root() -> Path:
    """Local scratch for remote outputs: ``$CONNECTOR_SCRATCH``, else ``$XDG_CACHE_HOME/connector`` (~/.cache)."""
    explicit = os.environ.get("CONNECTOR_SCRATCH")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "connector" / "scratch"


# Error codes of the stores' APIs (S3's, as s3fs keeps them on the cause) that mean "these credentials are wrong".
_BAD_CREDENTIALS = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "TokenRefreshRequired",
        "AuthenticationFailed",
        "InvalidClientTokenId",
    }
)
_UNREACHABLE_NAMES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "ClientConnectorError",
        "ServerDisconnectedError",
        "ClientOSError",
        "ServiceRequestError",
        "ServiceResponseError",
        "FSTimeoutError",
        "TransportError",
    }
)
_NO_PERMISSION = frozenset({"AccessDenied", "AllAccessDisabled", "AuthorizationPermissionMismatch"})
# Google's auth library refusing a key (its token endpoint said no): these credentials are wrong.
_BAD_CREDENTIALS_NAMES = frozenset({"RefreshError"})
_NO_CREDENTIALS_NAMES = frozenset(
    {
        "NoCredentialsError",
        "PartialCredentialsError",
        "DefaultCredentialsError",
        "ClientAuthenticationError",
        "CredentialUnavailableError",
    }
)
_CREDENTIAL_HINTS = {
    "s3": "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (and AWS_ENDPOINT_URL for "
    "S3-compatible stores)",
    "gs": "set up application default credentials (gcloud auth application-default login, or "
    "GOOGLE_APPLICATION_CREDENTIALS)",
    "az": "set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY, "
    "AZURE_STORAGE_SAS_TOKEN or the AZURE_CLIENT_* variables",
}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def error_code(exc: BaseException) -> str | None:
    """The store API's error code (``NoSuchBucket``, ``AccessDenied``, ``ContainerNotFound``...) carried by
    ``exc`` or its causes, if any: botocore keeps it in ``response``, azure-core in ``error_code``."""
    for link in _chain(exc):
        response = getattr(link, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            if code:
                return str(code)
        code = getattr(link, "error_code", None)
        if isinstance(code, str) and code:
            # azure-storage-blob gives a StorageErrorCode, a str Enum: its value is the service's code, and only
            # the value compares (and hashes) as that text
            return str(getattr(code, "value", code))
    return None


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status of the store's answer behind ``exc``: botocore's ``response``, azure-core's
    ``status_code``, gcsfs's ``HttpError.code``."""
    for link in _chain(exc):
        response = getattr(link, "response", None)
        if isinstance(response, dict):
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if isinstance(status, int):
                return status
        for name in ("status_code", "code"):
            status = getattr(link, name, None)
            if isinstance(status, int) and 100 <= status < 600:
                return status
    return None


def missing_bucket(location: StoreLocation, action: str) -> ConfigError:
    """The error for a bucket (or container) that does not exist."""
    return _refused(
        f"{action} {location.url}: the bucket {location.bucket} does not exist",
        "create it first, or check the name and the endpoint",
    )


def store_error(exc: BaseException, location: StoreLocation, action: str) -> ConnectorError:
    """The connector error for ``exc``, raised by a store's SDK while ``action`` (e.g. "writing") ``location``.

    The message is built from the URL, the error's type and the API's error code, never from the SDK's
    text (which may quote request headers or signed URLs).
    """
    if isinstance(exc, ConnectorError):
        return exc
    names = {base.__name__ for link in _chain(exc) for base in type(link).__mro__}
    code = error_code(exc)
    where = f"{action} {location.url}"
    hint = _CREDENTIAL_HINTS[location.scheme]
    status = _http_status(exc)
    if code in _BAD_CREDENTIALS or names & _BAD_CREDENTIALS_NAMES or (status == 401 and code is None):
        return _refused(
            f"{where}: {location.store} refused the credentials ({code or status or 'refresh'})", hint
        )
    if names & _NO_CREDENTIALS_NAMES:
        return _refused(f"{where}: no {location.store} credentials were found", hint)
    if code == "AuthorizationFailure":
        # Azure's answer to a signature made with a wrong key (Azurite's) as well as to a network rule or a
        # SAS without the permission: the credentials and the permissions are both to check.
        return _refused(
            f"{where}: {location.store} refused the request ({code}): wrong credentials or no permission",
            hint,
        )
    if code in ("NoSuchBucket", "ContainerNotFound"):
        return missing_bucket(location, action)
    if isinstance(exc, PermissionError) or status == 403 or code in _NO_PERMISSION:
        return _refused(
            f"{where}: permission denied ({code or 'forbidden'})",
            "grant these credentials read and write access to the bucket and prefix",
        )
    if names & _UNREACHABLE_NAMES or isinstance(exc, ConnectionError | TimeoutError):
        return StoreUnreachableError(f"{where}: {location.store} could not be reached ({type(exc).__name__})")
    if (isinstance(status, int) and status >= 500) or code in (
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
    ):
        return StoreUnreachableError(f"{where}: {location.store} kept failing ({code or status})")
    if isinstance(exc, FileNotFoundError):
        # A write finds no object missing, but its bucket: GCS and Azure answer a missing bucket this way.
        if action == "writing":
            return missing_bucket(location, action)
        return _refused(f"{where}: no such object", "check the URL")
    return _refused(
        f"{where}: {location.store} answered {code or type(exc).__name__}",
        "check the URL, the credentials and the endpoint",
    )
