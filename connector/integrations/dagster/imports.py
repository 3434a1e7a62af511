"""The import of a spreadsheet into Attio, as an asset or an op."""

# No ``from __future__ import annotations``: Dagster reads the asset functions' annotations at runtime.
import dataclasses
from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Failure,
    OpDefinition,
    OpExecutionContext,
    Output,
    asset,
    op,
)

from connector import (
    LoadConfig,
    defaults,
    load_sync,
)
from connector.storage import S3Settings
from connector.storage.load import staged_load

from .._common import jsonable
from .metadata import _import_metadata
from .resources import AttioResource, ImportRunConfig, _store_settings


def _run_import(
    context: AssetExecutionContext | OpExecutionContext,
    resource: AttioResource,
    source: str | None,
    run: ImportRunConfig,
    settings: Mapping[str, Any],
    store: S3Settings | None,
) -> Output:
    """Load the file; the report as the output, or a Failure with the same metadata when rows went wrong.

    A source or results URL goes through local scratch (:func:`connector.storage.load.staged_load`): the
    input downloaded whole first, the results uploaded as one object once the load has returned."""
    source = run.source or source
    if not source:
        raise Failure(
            description="no file to import: give source= to the factory or in the run config",
            allow_retries=False,
        )
    config = LoadConfig(dry_run=run.dry_run, **settings)
    context.log.info(f"importing {source} into Attio ({'dry run' if run.dry_run else config.contract})")
    client_config = None if run.dry_run else resource.client_config()
    with staged_load(source, config.results_path, dry_run=run.dry_run, settings=store) as (local, results):
        report = load_sync(
            local, dataclasses.replace(config, results_path=results), client_config=client_config
        )
    context.log.info(report.format())
    data = jsonable(report.to_dict())
    metadata = _import_metadata(data)
    if not report.ok:
        raise Failure(
            description=f"{report.rejected} rows rejected, {report.failed} failed"
            + (f", aborted: {report.aborted}" if report.aborted else "")
            + (f", input broke: {report.input_error}" if report.input_error else "")
            + f"; per-row results in {report.results_path}",
            metadata=metadata,
            # rejected rows and a broken input need a fixed file, not a retry
            allow_retries=bool(report.failed or report.aborted) and not report.input_error,
        )
    return Output(data, metadata=metadata)


def _load_settings(
    mapping: str | None, results_path: str | None, ledger_path: str | None, concurrency: int, contract: str
) -> dict[str, Any]:
    settings = {"mapping": mapping, "results_path": results_path, "ledger_path": ledger_path}
    LoadConfig(concurrency=concurrency, contract=contract)  # type: ignore[arg-type]  # refuse bad values now
    return {k: v for k, v in settings.items() if v} | {"concurrency": concurrency, "contract": contract}


def meetings_import_asset(
    *,
    name: str = "attio_meetings_import",
    source: str | None = None,
    mapping: str | None = None,
    results_path: str | None = None,
    ledger_path: str | None = None,
    concurrency: int = defaults.LOAD_CONCURRENCY,
    contract: str = "find-or-create",
    resource_key: str = "attio",
    store_resource_key: str | None = None,
    **asset_kwargs: Any,
) -> AssetsDefinition:
    """An asset that imports a spreadsheet into Attio; its value is the load report (a dict).

    The run fails when any row is rejected or fails (``Failure`` with the counts and the results file
    as metadata). ``source`` can be overridden at launch (:class:`ImportRunConfig`). Re-materializing is
    safe: the ledger skips rows already sent. ``source`` and ``results_path`` may be ``s3://``, ``gs://``,
    ``az://`` URLs (S3 credentials from the resource ``store_resource_key``, an :class:`S3StoreResource`,
    if given; the results, by default ``<source stem>.results.csv`` beside the source, uploaded as one
    object; ``results_path`` metadata names the local scratch copy). Other keyword arguments go to
    ``@asset`` (e.g. ``deps``).
    """
    settings = _load_settings(mapping, results_path, ledger_path, concurrency, contract)
    asset_kwargs.setdefault("description", f"Meetings imported into Attio from {source or 'a file'}")
    required = {resource_key} | ({store_resource_key} if store_resource_key else set())

    @asset(name=name, required_resource_keys=required, kinds={"attio"}, **asset_kwargs)
    def _import(context: AssetExecutionContext, config: ImportRunConfig) -> Output:
        store = _store_settings(context, store_resource_key)
        return _run_import(context, getattr(context.resources, resource_key), source, config, settings, store)

    return _import


def meetings_import_op(
    *,
    name: str = "attio_import_meetings",
    source: str | None = None,
    mapping: str | None = None,
    results_path: str | None = None,
    ledger_path: str | None = None,
    concurrency: int = defaults.LOAD_CONCURRENCY,
    contract: str = "find-or-create",
    resource_key: str = "attio",
    store_resource_key: str | None = None,
) -> OpDefinition:
    """The import as an op, for jobs built from ops; same behaviour and output as :func:`meetings_import_asset`."""
    settings = _load_settings(mapping, results_path, ledger_path, concurrency, contract)
    required = {resource_key} | ({store_resource_key} if store_resource_key else set())

    @op(name=name, required_resource_keys=required)
    def _import(context: OpExecutionContext, config: ImportRunConfig) -> Output:
        store = _store_settings(context, store_resource_key)
        return _run_import(context, getattr(context.resources, resource_key), source, config, settings, store)

    return _import
