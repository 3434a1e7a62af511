"""Airflow integration (extra ``connector[airflow]``): a hook and two operators.

- :class:`AttioHook` reads an Airflow Connection of type ``attio``: the password is the API token, the
  host (a full URL, or a host name with ``schema`` = http/https and ``port``) the base URL, and the extra
  JSON the client settings (``reads_per_second``, ``writes_per_second``, ``max_in_flight``, ``timeout``,
  ``connect_timeout``, ``max_attempts``, ``max_retry_time``, and ``rate_limit_url``: the Redis of a rate
  budget that every task using the connection shares, so a 30-day backfill stays within Attio's budget).
- :class:`AttioExtractOperator` extracts the meetings of a time window to Parquet: a local path, an
  object-store URL (``s3://``, ``gs://``, ``az://``; ``aws_conn_id=``, ``gcp_conn_id=`` and ``wasb_conn_id=``
  take each store's credentials from an Airflow AWS, Google Cloud or Azure Blob connection, in-process) or a
  database URL; with ``tables=`` also the meetings' call recordings and
  transcript segments, a file (or database table) each, from one run. Its bounds are templated and default
  to the run's data interval, so a daily DAG extracts its day. Each table's output is declared as an Airflow
  Asset (Dataset on Airflow 2) in ``outlets``, so downstream DAGs can be scheduled on fresh transcripts.
- :class:`AttioLoadOperator` loads a CSV / Parquet / .xlsx file (find-or-create per row), local or on a store.
- :func:`workspace_windows` plans a fan-out over many workspaces (one connection each) and the days of a
  data interval, for ``AttioExtractOperator.partial(...).expand_kwargs(...)`` (dynamic task mapping).

Both return the report dict, which Airflow pushes to XCom as ``return_value``; a load with rejected or
failed rows also pushes it as ``report`` and then fails the task.

Plain mode only, on purpose: deferrable operators hand *waiting* to the triggerer's shared event loop, but
there is nothing to wait for here. Attio has no server-side export job to poll: the HTTP paging, Arrow
conversion and Parquet writes *are* the work, and doing them in the triggerer would block every other
trigger. The library is async inside the worker instead (one event loop, many concurrent requests), and
an interrupted extract or load resumes from its checkpoint/ledger on the task's next try.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from connector import (
    ApiError,
    ClientConfig,
    ConfigError,
    ConnectorError,
    ExtractConfig,
    LoadConfig,
    LoadReport,
    MeetingQuery,
    RateLimits,
    RetryPolicy,
    Secret,
    SyncAttioClient,
    defaults,
    extract_to_path,
    load_sync,
)
from connector.destinations import extract_to_database, redact
from connector.destinations.urls import is_database_url
from connector.extract.helpers import table_paths
from connector.extract.streams import TABLES, check_tables
from connector.storage import AzureSettings, GCSSettings, S3Settings, StoreLocation, StoreSettings, is_url
from connector.storage.load import staged_load

from ._airflow_compat import AirflowException, AirflowFailException, Asset, BaseHook, BaseOperator
from ._common import jsonable, parse_bound

__all__ = [
    "AttioExtractOperator",
    "AttioHook",
    "AttioLoadOperator",
    "azure_settings_from_connection",
    "client_config_from_connection",
    "gcs_settings_from_connection",
    "output_asset",
    "output_assets",
    "s3_settings_from_connection",
    "workspace_windows",
]

# Connection extras -> (where in ClientConfig, type). Unknown keys are refused: a typo must not be ignored.
_EXTRAS: dict[str, tuple[str, type]] = {
    "reads_per_second": ("limits", float),
    "writes_per_second": ("limits", float),
    "max_in_flight": ("limits", int),
    "timeout": ("client", float),
    "connect_timeout": ("client", float),
    "max_attempts": ("retry", int),
    "max_retry_time": ("retry", float),
    "rate_limit_url": ("client", str),
}


def _base_url(host: str | None, schema: str | None, port: int | None) -> str | None:
    """The base URL from a Connection's host (a URL or a bare host), schema (http/https) and port."""
    if not host:
        return None
    host = host.strip().rstrip("/")
    if "://" in host:
        scheme, _, rest = host.partition("://")
        if port and ":" not in rest.split("/", 1)[0]:
            authority, slash, path = rest.partition("/")
            rest = f"{authority}:{port}{slash}{path}"
        return f"{scheme}://{rest}"
    scheme = schema if schema in ("http", "https") else "https"
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def client_config_from_connection(conn: Any) -> ClientConfig:
    """A :class:`connector.ClientConfig` from an Airflow Connection (anything with its attributes).

    The token never leaves the returned config's :class:`~connector.Secret`; errors name the connection
    and the field, never the value.
    """
    conn_id = getattr(conn, "conn_id", None) or "<connection>"
    token = conn.password
    if not token:
        raise ConfigError(f"Airflow connection {conn_id!r} has no password: put the Attio API token there")
    extras = dict(conn.extra_dejson or {})
    unknown = sorted(set(extras) - set(_EXTRAS))
    if unknown:
        raise ConfigError(
            f"Airflow connection {conn_id!r}: unknown extra key(s) {', '.join(unknown)}; use {', '.join(_EXTRAS)}"
        )
    parts: dict[str, dict[str, Any]] = {"limits": {}, "retry": {}, "client": {}}
    for key, value in extras.items():
        where, kind = _EXTRAS[key]
        try:
            parts[where][key] = kind(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"Airflow connection {conn_id!r}: extra {key!r} must be a {kind.__name__}"
            ) from None
    retry = parts["retry"]
    if "max_retry_time" in retry:
        retry["max_time"] = retry.pop("max_retry_time")
    base_url = _base_url(conn.host, conn.schema, conn.port)
    given: dict[str, Any] = {"base_url": base_url} if base_url else {}
    return ClientConfig(
        token=token,
        limits=RateLimits(**parts["limits"]),
        retry=RetryPolicy(**retry),
        **given,
        **parts["client"],
    )


class AttioHook(BaseHook):
    """Reads an ``attio`` Connection and gives a :class:`connector.ClientConfig` (``get_conn()``)."""

    conn_name_attr = "attio_conn_id"
    default_conn_name = "attio_default"
    conn_type = "attio"
    hook_name = "Attio"

    def __init__(self, attio_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attio_conn_id = attio_conn_id

    def get_conn(self) -> ClientConfig:
        """The client config of the connection (the hook's "connection" is a config: clients are async)."""
        return client_config_from_connection(self.get_connection(self.attio_conn_id))

    def test_connection(self) -> tuple[bool, str]:
        """Lists one meeting: proves the URL, the token and its ``meeting:read`` scope (UI "Test" button)."""
        try:
            with SyncAttioClient(self.get_conn()) as client:
                client.list_page(MeetingQuery(limit=1))
        except ConnectorError as exc:
            return False, str(exc)
        return True, "Connection to Attio works"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabels the Connection form: the password is the token, the host the base URL."""
        return {
            "hidden_fields": ["login"],
            "relabeling": {"password": "API token", "host": "Base URL", "schema": "Scheme (http/https)"},
            "placeholders": {
                "host": "https://api.attio.com",
                "extra": f'{{"reads_per_second": {defaults.READS_PER_SECOND:g}, "writes_per_second": '
                f'{defaults.WRITES_PER_SECOND:g}, "max_in_flight": {defaults.MAX_IN_FLIGHT}}}',
            },
        }


# AWS connection extras that pick *other* credentials (a role, a profile): honouring them needs the Amazon
# provider's session logic, so they are refused rather than silently ignored.
_AWS_UNSUPPORTED = ("role_arn", "assume_role_method", "assume_role_kwargs", "profile_name", "session_kwargs")


def s3_settings_from_connection(conn: Any) -> S3Settings:
    """:class:`connector.storage.S3Settings` from an Airflow AWS connection (type ``aws``).

    The login is the access key ID and the password the secret access key (both optional: empty means the
    worker's AWS chain); the extra may set ``region_name``, ``endpoint_url`` (or
    ``service_config.s3.endpoint_url``) and ``aws_session_token``. They go to the store's client in this
    process only: never into ``os.environ``, a log line or an error.
    """
    conn_id = getattr(conn, "conn_id", None) or "<connection>"
    extra = dict(conn.extra_dejson or {})
    refused = [key for key in _AWS_UNSUPPORTED if extra.get(key)]
    if refused:
        raise ConfigError(
            f"Airflow connection {conn_id!r}: {', '.join(refused)} is not supported; give the key pair in the "
            "connection, or leave aws_conn_id unset so that the worker's AWS environment (its role) is used"
        )
    s3_config = (extra.get("service_config") or {}).get("s3") or {}
    try:
        return S3Settings(
            access_key_id=conn.login or None,
            secret_access_key=conn.password or None,
            session_token=extra.get("aws_session_token") or None,
            endpoint_url=s3_config.get("endpoint_url") or extra.get("endpoint_url") or None,
            region=extra.get("region_name") or None,
        )
    except ConfigError as exc:
        raise ConfigError(f"Airflow connection {conn_id!r}: {exc}") from None


def _extra(conn: Any, prefix: str, name: str) -> Any:
    """An extra field of a provider's connection: ``name``, or the ``extra__<type>__name`` form of older providers."""
    extra = conn.extra_dejson or {}
    return extra.get(name) or extra.get(f"extra__{prefix}__{name}") or None


def _conn_id(conn: Any) -> str:
    return getattr(conn, "conn_id", None) or "<connection>"


# Google connection extras that pick other credentials through the Google provider's own machinery.
_GCP_UNSUPPORTED = ("key_secret_name", "impersonation_chain", "credential_config_file", "is_anonymous")


def gcs_settings_from_connection(conn: Any) -> GCSSettings:
    """:class:`connector.storage.GCSSettings` from an Airflow Google Cloud connection (type ``google_cloud_platform``).

    Read as the Google provider reads it, without needing it: the extra's ``keyfile_dict`` (the service
    account key's JSON, text or object) or ``key_path`` (its path on the worker), else the worker's
    application default credentials; ``project`` too. The key goes to the store's client in this process
    only: never into ``os.environ``, a log line or an error.
    """
    refused = [key for key in _GCP_UNSUPPORTED if _extra(conn, "google_cloud_platform", key)]
    if refused:
        raise ConfigError(
            f"Airflow connection {_conn_id(conn)!r}: {', '.join(refused)} is not supported; give keyfile_dict or "
            "key_path in the connection, or leave gcp_conn_id unset so that the worker's application default "
            "credentials are used"
        )
    keyfile = _extra(conn, "google_cloud_platform", "keyfile_dict")
    try:
        return GCSSettings(
            keyfile_json=Secret(json.dumps(keyfile) if isinstance(keyfile, dict) else str(keyfile))
            if keyfile
            else None,
            keyfile_path=_extra(conn, "google_cloud_platform", "key_path"),
            project=_extra(conn, "google_cloud_platform", "project"),
        )
    except ConfigError as exc:
        raise ConfigError(f"Airflow connection {_conn_id(conn)!r}: {exc}") from None


_AZ_ACCOUNT_HOST = re.compile(r"(?:https?://)?([a-z0-9]{3,24})\.(?:blob|dfs)\.core\.windows\.net(?:/.*)?")


def _azure_account(conn: Any, extra: str | None, login_is_account: bool) -> str | None:
    """The storage account: from the host (``https://ACCOUNT.blob.core.windows.net``, or the bare name), from a
    SAS URL, or the login where the login is the account (not a service principal's client ID)."""
    for text in (conn.host, extra):
        found = _AZ_ACCOUNT_HOST.match((text or "").strip().lower())
        if found:
            return found.group(1)
    host = (conn.host or "").strip()
    if re.fullmatch(r"[a-z0-9]{3,24}", host):
        return host
    return (conn.login or None) if login_is_account else None


def azure_settings_from_connection(conn: Any) -> AzureSettings:
    """:class:`connector.storage.AzureSettings` from an Airflow Azure Blob Storage connection (type ``wasb``; an
    Azure Data Lake Storage Gen2 connection, type ``adls``, is read alike).

    Read as the Microsoft provider reads it, without needing it, in its order: the extra's
    ``connection_string``; a service principal (extra ``tenant_id``, the login its client ID, the password
    its secret); the extra's ``sas_token`` (a token, or a SAS URL); the extra's ``shared_access_key`` or the
    password as the account key; else the worker's Azure credential chain. The account is the host
    (``https://ACCOUNT.blob.core.windows.net`` or the bare name) or, but for a service principal, the
    login. The secrets go to the store's client in this process only.
    """
    prefix = "azure_data_lake" if getattr(conn, "conn_type", None) == "adls" else "wasb"
    connection_string = _extra(conn, prefix, "connection_string")
    tenant = _extra(conn, prefix, "tenant_id")
    sas = _extra(conn, prefix, "sas_token")
    try:
        if connection_string:
            return AzureSettings(connection_string=connection_string)
        if tenant:
            account = _azure_account(conn, None, login_is_account=False)
            if account is None:
                raise ConfigError(
                    "a service principal connection needs the storage account in its host "
                    "(https://ACCOUNT.blob.core.windows.net)"
                )
            return AzureSettings(
                account_name=account,
                tenant_id=tenant,
                client_id=conn.login or None,
                client_secret=conn.password or None,
            )
        account = _azure_account(conn, sas if isinstance(sas, str) else None, login_is_account=True)
        if sas:
            token = sas.split("?", 1)[1] if sas.startswith("http") and "?" in sas else sas
            return AzureSettings(account_name=account, sas_token=token)
        key = _extra(conn, prefix, "shared_access_key") or conn.password or None
        return AzureSettings(account_name=account, account_key=key)
    except ConfigError as exc:
        raise ConfigError(f"Airflow connection {_conn_id(conn)!r}: {exc}") from None


# Each operator's store connection parameter -> the settings it makes, and the stores (URL schemes) they are for.
_STORE_CONNECTIONS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "aws_conn_id": (s3_settings_from_connection, S3Settings.schemes),
    "gcp_conn_id": (gcs_settings_from_connection, GCSSettings.schemes),
    "wasb_conn_id": (azure_settings_from_connection, AzureSettings.schemes),
}


def _store_settings(urls: Sequence[str | None], conn_ids: dict[str, str | None]) -> tuple[StoreSettings, ...]:
    """The settings of each store connection named in ``conn_ids``; one for a store that none of ``urls`` is on
    is refused (a typo, or a connection that would silently be unused)."""
    schemes = {
        StoreLocation.parse(url, "URL").scheme
        for url in urls
        if url and is_url(url) and not is_database_url(url)
    }
    found = []
    for param, conn_id in conn_ids.items():
        if not conn_id:
            continue
        make, stores = _STORE_CONNECTIONS[param]
        if not schemes & set(stores):
            named = " and ".join(redact(url) for url in urls if url)
            raise ConfigError(f"{param} is for {stores[0]}:// URLs, and {named} is not on that store")
        found.append(make(BaseHook.get_connection(conn_id)))
    return tuple(found)


def output_asset(path: str) -> Any | None:
    """The Airflow Asset (Dataset on Airflow 2) that an extract to ``path`` updates, or None for a database.

    A store URL is its own URI (``s3://bucket/key``), a local path ``file://`` + its absolute path. A
    templated path (``.../date={{ ds }}/meetings.parquet``) declares the folder before its first template,
    which every run writes below (each run's event names its file); one that starts with a template
    declares nothing (pass ``outlets=`` yourself).
    """
    static = path.split("{{", 1)[0]
    if static != path:
        static = static.rpartition("/")[0]
    if not static:
        return None
    if is_url(static):
        try:
            return Asset(StoreLocation.parse(static).url)
        except ConfigError:
            return None  # a database URL, or a prefix too short to name an object
    return Asset(Path(static).absolute().as_uri())


_TEMPLATE = re.compile(r"\{\{.*?\}\}")


def output_assets(path: str, tables: str | Sequence[str] | None = None) -> dict[str, Any]:
    """The Asset of each table that an extract of ``tables`` to ``path`` updates (none for a database).

    One table: :func:`output_asset` of ``path``. Several: ``path`` is a folder holding ``<table>.parquet``
    each, and each table's Asset is its file (``s3://lake/attio/transcript_segments.parquet``) or, when the
    folder is templated, the pattern of the files the runs write, each template a ``*``
    (``s3://lake/attio/date=*/transcript_segments.parquet``); each run's event names the file it wrote.
    """
    names = check_tables(tables)
    if len(names) == 1:
        asset = output_asset(path)
        return {names[0]: asset} if asset is not None else {}
    if output_asset(path) is None:  # a database, or nothing static to name
        return {}
    assets = {}
    for name, file in table_paths(path, names, "parquet").items():
        if "{{" not in file:
            assets[name] = output_asset(file)
            continue
        pattern = _TEMPLATE.sub("*", file)
        local = "file://" + quote(str(Path(pattern).absolute()), safe="/=*")
        assets[name] = Asset(StoreLocation.parse(pattern).url if is_url(pattern) else local)
    return assets


def _record_events(
    context: Any, outlets: Sequence[Any], extras: dict[Any, dict[str, Any]], other: dict[str, Any]
) -> None:
    """Attach what the run wrote to its asset events (Airflow 2.10+ and 3 give ``outlet_events``): a table's
    Asset gets its table's ``extras``, any other Asset outlet ``other``."""
    events = context.get("outlet_events") if hasattr(context, "get") else None
    if events is None:
        return
    for outlet in outlets:
        if isinstance(outlet, Asset):
            events[outlet].extra = extras.get(outlet, other)


def _int_or_none(name: str, value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None


def _no_retry(exc: ConnectorError) -> AirflowFailException | None:
    """For an error no retry can fix (bad settings, a bad token, a 4xx) the exception that skips Airflow's retries."""
    if isinstance(exc, ConfigError | ApiError) and not exc.retryable:
        return AirflowFailException(f"{type(exc).__name__}: {exc}")
    return None


class _StoreConnections:
    """The store connections an operator names: ``aws_conn_id``, ``gcp_conn_id``, ``wasb_conn_id``."""

    aws_conn_id: str | None
    gcp_conn_id: str | None
    wasb_conn_id: str | None

    @property
    def _store_conn_ids(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in _STORE_CONNECTIONS}


class AttioExtractOperator(_StoreConnections, BaseOperator):
    """Extracts the meetings of a time window (and with ``tables=``, their call recordings and transcript
    segments) to Parquet and returns the extract report (XCom).

    ``ends_from`` (inclusive) and ``starts_before`` (exclusive) are templated and default to the data
    interval. ``window="start"`` (the default) keeps the meetings that *start* in the interval (all-day:
    00:00 in ``timezone``), so each meeting is in exactly one day's file, also one that crosses midnight;
    ``window="overlap"`` keeps Attio's semantics (every meeting overlapping the interval, so one that
    crosses midnight is in both days' files). Give ``None`` or ``""`` for an open bound.

    Use a schedule with real data intervals (``CronDataIntervalTimetable("@daily", timezone="UTC")``): in
    Airflow 3 a plain cron string gives an empty interval (start == end), which is refused.

    ``tables`` (a list, or names separated by commas; default ``meetings``) picks the tables of
    ``meetings``, ``call_recordings``, ``transcript_segments``, all from one run: with several,
    ``output_path`` is a folder that gets ``<table>.parquet`` each, or a database that gets a table of each
    name. An unknown table is refused when the DAG is parsed. The returned report's ``outputs`` maps each
    table to where it went (``tables``: its rows).

    An ``output_path`` that is a database URL (``duckdb:///...``, ``postgresql://...``; the password from
    PGPASSWORD or ~/.pgpass) writes ``table`` with ``write_mode``; for the meetings alone the default
    ``replace-window`` replaces the rows starting in the interval, so a re-run or a backfill of a day leaves
    that day's rows exact; with several tables the default is ``merge`` (a recording has no start to judge a
    window by: recordings are replaced by ``call_recording_id``, a transcript's segments as a whole).

    An object-store URL (``s3://``, ``gs://``, ``az://``) is written through local scratch and published
    whole (see the docs' "Object stores"); ``aws_conn_id`` names an Airflow AWS connection whose key pair,
    endpoint and region are used for ``s3://`` (else the worker's AWS environment), ``gcp_conn_id`` a Google
    Cloud connection for ``gs://`` (:func:`gcs_settings_from_connection`), ``wasb_conn_id`` an Azure Blob
    Storage or Data Lake connection for ``az://`` (:func:`azure_settings_from_connection`). Unless ``outlets`` is
    given, each table's output is declared as an Asset (:func:`output_assets`; ``table_assets`` maps the
    tables to them), and each run's event on it carries ``table``, ``output`` (the URL or path written),
    ``rows`` and ``schema_version`` in its extra.
    """

    template_fields: Sequence[str] = (
        "output_path",
        "ends_from",
        "starts_before",
        "participants",
        "linked_object",
        "linked_record_id",
        "timezone",
        "checkpoint_path",
    )
    ui_color = "#e8f1ff"

    def __init__(
        self,
        *,
        output_path: str,
        ends_from: str | datetime | None = "{{ data_interval_start }}",
        starts_before: str | datetime | None = "{{ data_interval_end }}",
        participants: Sequence[str] | str = (),
        linked_object: str | None = None,
        linked_record_id: str | None = None,
        timezone: str = "UTC",
        slices: int | None = None,
        batch_size: int | None = None,
        checkpoint_path: str | None = None,
        resume: bool = True,
        window: str = "start",
        attio_conn_id: str = AttioHook.default_conn_name,
        table: str = "meetings",
        write_mode: str | None = None,
        aws_conn_id: str | None = None,
        tables: Sequence[str] | str | None = None,
        gcp_conn_id: str | None = None,
        wasb_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        # Checked here, when the DAG is parsed: a typo shows as an import error, not a failed run at night.
        try:
            self.tables = check_tables(tables)
        except ConfigError as exc:
            raise ConfigError(f"AttioExtractOperator {kwargs.get('task_id')!r}: {exc}") from None
        several = len(self.tables) > 1
        if several and write_mode == "replace-window":
            raise ConfigError(
                f"AttioExtractOperator {kwargs.get('task_id')!r}: write_mode replace-window is for the meetings "
                "table alone (a call recording has no start to judge the window by); use merge or replace"
            )
        if several and table != "meetings":
            raise ConfigError(
                f"AttioExtractOperator {kwargs.get('task_id')!r}: table={table!r} names one table, but tables= "
                "names several: each is written to the table of its own name"
            )
        self.table_assets = output_assets(output_path, self.tables)
        if "outlets" not in kwargs:
            kwargs["outlets"] = list(self.table_assets.values())
        super().__init__(**kwargs)
        self.aws_conn_id = aws_conn_id
        self.gcp_conn_id = gcp_conn_id
        self.wasb_conn_id = wasb_conn_id
        self.table = table
        self.write_mode = write_mode or ("merge" if several else "replace-window")
        self.window = window
        self.output_path = output_path
        self.ends_from = ends_from
        self.starts_before = starts_before
        self.participants = participants
        self.linked_object = linked_object
        self.linked_record_id = linked_record_id
        self.timezone = timezone
        self.slices = slices
        self.batch_size = batch_size
        self.checkpoint_path = checkpoint_path
        self.resume = resume
        self.attio_conn_id = attio_conn_id

    def query(self) -> MeetingQuery:
        """The meeting query of the rendered fields; refuses an empty window with a hint."""
        ends_from = parse_bound("ends_from", self.ends_from)
        starts_before = parse_bound("starts_before", self.starts_before)
        if ends_from is not None and starts_before is not None and ends_from >= starts_before:
            raise ConfigError(
                f"the time window [{ends_from.isoformat()}, {starts_before.isoformat()}) is empty; a DAG scheduled "
                "with a cron string has no data interval in Airflow 3: use "
                "schedule=CronDataIntervalTimetable('@daily', timezone='UTC') or set ends_from/starts_before"
            )
        return MeetingQuery(
            ends_from=ends_from,
            starts_before=starts_before,
            # MeetingQuery keeps a tuple of any sequence or comma-separated string it is given (__post_init__).
            participants=cast(tuple[str, ...], self.participants or ()),
            linked_object=self.linked_object or None,
            linked_record_id=self.linked_record_id or None,
            timezone=self.timezone,
        )

    def execute(self, context: Any) -> dict[str, Any]:
        try:
            result = self._extract()
        except ConnectorError as exc:
            fatal = _no_retry(exc)
            if fatal is None:
                raise
            raise fatal from exc
        extras = {
            table: {
                "table": table,
                "output": result["outputs"][table],
                "rows": result["tables"].get(table, result["rows"]),
                "schema_version": TABLES[table].schema().version,
            }
            for table in self.tables
        }
        first = extras[self.tables[0]]
        other = first if len(self.tables) == 1 else {**first, "table": None, "outputs": result["outputs"]}
        _record_events(context, self.outlets, {a: extras[t] for t, a in self.table_assets.items()}, other)
        return result

    def _extract(self) -> dict[str, Any]:
        query = self.query()
        options: dict[str, Any] = {"query": query, "resume": self.resume, "window": self.window}
        if self.checkpoint_path:
            options["checkpoint"] = self.checkpoint_path
        for name in ("slices", "batch_size"):
            value = _int_or_none(name, getattr(self, name))
            if value is not None:
                options[name] = value
        client_config = AttioHook(self.attio_conn_id).get_conn()
        self.log.info("Extracting Attio meetings (%s) to %s", query.describe(), redact(self.output_path))
        settings = _store_settings([self.output_path], self._store_conn_ids)
        if is_database_url(self.output_path):
            options.pop("resume")  # a database run is one transaction: nothing to resume
            report = extract_to_database(
                self.output_path,
                table=self.table,
                write_mode=self.write_mode,
                config=ExtractConfig(**options),
                client_config=client_config,
                tables=self.tables if len(self.tables) > 1 else None,
            )
        else:
            report = extract_to_path(
                self.output_path,
                format="parquet",
                config=ExtractConfig(**options),
                client_config=client_config,
                store_settings=settings[0] if settings else None,
                tables=self.tables,
            )
        result = jsonable(report.to_dict())
        # One shape for one table or several: downstream tasks read result["outputs"][table].
        result["outputs"] = result["outputs"] or {self.tables[0]: result["output"]}
        self.log.info(
            "Extracted %s meetings in %s pages (%s requests, %s retries, %s rate limited) to %s",
            result.get("rows"),
            result.get("pages"),
            result.get("requests"),
            result.get("retries"),
            result.get("rate_limited"),
            redact(self.output_path),
        )
        if len(self.tables) > 1:
            self.log.info("Rows per table: %s", ", ".join(f"{t} {n}" for t, n in result["tables"].items()))
        return result


def workspace_windows(
    connections: Sequence[str],
    start: datetime | str,
    end: datetime | str,
    output_path: str,
    step: timedelta = timedelta(days=1),
) -> list[dict[str, str]]:
    """One extract per workspace and ``step`` of ``[start, end)``: the mapped arguments of
    ``AttioExtractOperator.partial(...).expand_kwargs(...)``.

    ``connections`` are Airflow connection IDs, one per workspace (each its own token and budget);
    ``output_path`` is filled in with ``{workspace}`` (the connection ID) and ``{day}`` (the step's start
    date). Windows are half-open and follow each other, so every meeting is in exactly one file per workspace.
    """
    first, last = parse_bound("start", start), parse_bound("end", end)
    if first is None or last is None or first >= last:
        raise ConfigError(
            f"the data interval [{start}, {end}) is empty or open; give a schedule with real intervals"
        )
    if step <= timedelta(0):
        raise ConfigError("step must be positive")
    plan = []
    for conn_id in connections:
        moment = first
        while moment < last:
            following = min(moment + step, last)
            plan.append(
                {
                    "attio_conn_id": conn_id,
                    "ends_from": moment.isoformat(),
                    "starts_before": following.isoformat(),
                    "output_path": output_path.format(workspace=conn_id, day=moment.date().isoformat()),
                }
            )
            moment = following
    return plan


class AttioLoadOperator(_StoreConnections, BaseOperator):
    """Loads a CSV / Parquet / .xlsx file into Attio (find-or-create per row) and returns the load report.

    Paths are templated; ``source`` and ``results_path`` may be object-store URLs (the input is downloaded
    to local scratch first, the results uploaded as one object at the end; ``aws_conn_id``,
    ``gcp_conn_id`` and ``wasb_conn_id`` as for the extract, each for the URLs on its store). The ledger
    (default beside the source: in local scratch for a URL) makes a retried task skip rows already sent, so
    Airflow retries are safe. When rows are rejected (bad input: no retry can fix it) the task
    fails without retrying; when rows failed at the API it fails and Airflow may retry. Either way the
    report is pushed to XCom as ``report`` first, and names the per-row results file.
    """

    template_fields: Sequence[str] = ("source", "mapping", "results_path", "ledger_path")
    ui_color = "#fff1e8"

    def __init__(
        self,
        *,
        source: str,
        mapping: str | None = None,
        results_path: str | None = None,
        ledger_path: str | None = None,
        concurrency: int = defaults.LOAD_CONCURRENCY,
        dry_run: bool = False,
        max_errors: int | None = None,
        contract: str = "find-or-create",
        fail_on_row_errors: bool = True,
        attio_conn_id: str = AttioHook.default_conn_name,
        aws_conn_id: str | None = None,
        gcp_conn_id: str | None = None,
        wasb_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aws_conn_id = aws_conn_id
        self.gcp_conn_id = gcp_conn_id
        self.wasb_conn_id = wasb_conn_id
        self.source = source
        self.mapping = mapping
        self.results_path = results_path
        self.ledger_path = ledger_path
        self.concurrency = concurrency
        self.dry_run = dry_run
        self.max_errors = max_errors
        self.contract = contract
        self.fail_on_row_errors = fail_on_row_errors
        self.attio_conn_id = attio_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        try:
            report = self._load()
        except ConnectorError as exc:
            fatal = _no_retry(exc)
            if fatal is None:
                raise
            raise fatal from exc
        self.log.info("%s", report.format())
        result = jsonable(report.to_dict())
        if report.ok or (not self.fail_on_row_errors and not report.input_error):
            return result
        context["ti"].xcom_push(key="report", value=result)
        message = (
            f"{report.rejected} rows rejected, {report.failed} failed"
            + (f", aborted: {report.aborted}" if report.aborted else "")
            + (f", input broke: {report.input_error}" if report.input_error else "")
            + f"; per-row results in {report.results_path}"
        )
        if (report.failed or report.aborted) and not report.input_error:
            raise AirflowException(message)  # API trouble: a retry resumes from the ledger
        raise AirflowFailException(message)

    def _load(self) -> LoadReport:
        config = LoadConfig(
            mapping=self.mapping or None,
            results_path=self.results_path or None,
            ledger_path=self.ledger_path or None,
            concurrency=self.concurrency,
            dry_run=self.dry_run,
            max_errors=self.max_errors,
            contract=self.contract,  # type: ignore[arg-type]
        )
        client_config = None if self.dry_run else AttioHook(self.attio_conn_id).get_conn()
        self.log.info("Loading %s into Attio (%s)", self.source, "dry run" if self.dry_run else self.contract)
        staged = staged_load(
            self.source,
            self.results_path or None,
            dry_run=self.dry_run,
            settings=_store_settings([self.source, self.results_path], self._store_conn_ids),
        )
        with staged as (source, results):
            return load_sync(
                source, dataclasses.replace(config, results_path=results), client_config=client_config
            )
