"""A load whose input, results or both are on an object store: through local scratch copies.

    s3://drop/import/meetings.csv            -> SCRATCH/load/s3/drop/import/meetings.csv   (downloaded whole)
    s3://drop/import/meetings.results.csv    <- SCRATCH/load/s3/drop/import/meetings.results.csv (uploaded at the end)
                                                SCRATCH/load/s3/drop/import/meetings.ledger.sqlite (the default ledger)

The loader itself reads and writes local files only: the input is downloaded (under a temporary name,
renamed when complete) before anything is read, and the results file is uploaded as one object when the
load has returned its report, so the store never holds a partial results file. After an interruption
(exit 130) or an error the results stay in scratch, and running the same command again finishes the load
(the ledger, which stays in local scratch unless ``--ledger`` says otherwise, skips what was done) and
uploads them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from ..errors import ConfigError
from .location import StoreLocation, is_url, open_filesystem, scratch_root
from .settings import StoreSettings
from .transfer import Store

__all__ = ["staged_load"]


def _scratch(location: StoreLocation, scratch: Path | None) -> Path:
    root = (scratch if scratch is not None else scratch_root()) / "load"
    account = [location.account] if location.account else []
    return root.joinpath(location.scheme, *account, location.bucket, *location.key.split("/"))


def _sibling_results(location: StoreLocation) -> StoreLocation:
    key = PurePosixPath(location.key)
    return StoreLocation(
        location.scheme, location.bucket, str(key.with_name(key.stem + ".results.csv")), location.account
    )


def _settings_for(
    location: StoreLocation, settings: StoreSettings | Sequence[StoreSettings] | None
) -> StoreSettings | None:
    """One store's settings as given (another store's are refused when used), or of several the one for ``location``."""
    if settings is None or not isinstance(settings, Sequence):
        return settings
    return next((one for one in settings if location.scheme in one.schemes), None)


def _check_remote_results(store: Store, location: StoreLocation) -> None:
    from ..load.results import RESULTS_HEAD_BYTES, RESULTS_TAIL_BYTES, is_results_file, results_format

    fmt = results_format(Path(PurePosixPath(location.key).name))
    ends = store.ends(location, RESULTS_HEAD_BYTES, RESULTS_TAIL_BYTES)
    if ends is not None and not is_results_file(fmt, *ends):
        raise ConfigError(
            f"results file {location.url} exists and is not a results file of this tool; it was left as it is: "
            "choose another --results path, or pass --overwrite to replace it"
        )


@contextmanager
def staged_load(
    source: str | os.PathLike[str],
    results: str | os.PathLike[str] | None,
    *,
    dry_run: bool = False,
    scratch: str | os.PathLike[str] | None = None,
    settings: StoreSettings | Sequence[StoreSettings] | None = None,
    overwrite: bool = False,
) -> Iterator[tuple[Path, Path | None]]:
    """Local stand-ins for a load's ``source`` and ``results`` when they are object-store URLs.

    Yields ``(input path, results path)`` for :func:`connector.load.load`: local paths are passed
    through; a remote input is downloaded first; a remote results file (by default, for a remote input,
    ``<input stem>.results.csv`` beside it in the store) is written locally and uploaded when the block
    ends without an exception. ``settings``: a store's credentials handed over in-process (an
    orchestrator's connection; :mod:`.settings`) for the URLs on that store, or several stores' (the
    input on one, the results on another): each URL gets its store's, or the environment's. A remote
    results object already there is replaced only when it is a results file (or empty), or ``overwrite``
    is True, as a local one (:func:`connector.load.results.check_results_path`).
    """
    root = Path(scratch) if scratch is not None else None
    remote_input = StoreLocation.parse(os.fspath(source), "INPUT") if is_url(source) else None
    remote_results = (
        StoreLocation.parse(os.fspath(results), "--results")
        if results is not None and is_url(results)
        else None
    )
    if settings and remote_input is None and remote_results is None:
        raise ConfigError("store settings were given, but neither the input nor the results is a store URL")
    if remote_results is None and results is None and remote_input is not None and not dry_run:
        remote_results = _sibling_results(remote_input)
    local_input = Path(source)
    if remote_input is not None:
        store = Store(open_filesystem(remote_input, _settings_for(remote_input, settings)), remote_input)
        local_input = _scratch(remote_input, root)
        store.download({remote_input: local_input})
    local_results = Path(results) if results is not None and remote_results is None else None
    if remote_results is not None:
        local_results = _scratch(remote_results, root)
        local_results.parent.mkdir(parents=True, exist_ok=True)  # a local input made no scratch folder
        store = Store(
            open_filesystem(remote_results, _settings_for(remote_results, settings)), remote_results
        )
        store.check_bucket()  # before any row is sent
        if not overwrite:
            _check_remote_results(store, remote_results)
    yield local_input, local_results
    if remote_results is not None and local_results is not None and local_results.exists():
        Store(
            open_filesystem(remote_results, _settings_for(remote_results, settings)), remote_results
        ).upload({local_results: remote_results})
