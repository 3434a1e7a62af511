"""Extract Attio meetings into Arrow: RecordBatches, tables, DataFrames, Parquet/CSV/JSON Lines files.

    async with AttioClient() as client:
        report = await extract(client, ExtractConfig(query=MeetingQuery(...)), ParquetSink("meetings.parquet"))
        async for batch in extract_batches(client, ExtractConfig()): ...
    extract_to_path("meetings.parquet")          # sync, token from ATTIO_API_KEY
    extract_dataframe_sync()                     # sync, a pandas DataFrame
    extract_to_path("attio/", tables="meetings,call_recordings,transcript_segments")   # a file per table

The row schemas come from ``schemas/*.json`` (:mod:`connector.schema`): meetings, call_recordings,
transcript_segments.
"""

from .arrow import MeetingConverter
from .core import ExtractConfig, extract, extract_batches
from .helpers import (
    extract_dataframe,
    extract_dataframe_sync,
    extract_table,
    extract_table_sync,
    extract_tables,
    extract_to_path,
    meetings_to_dataframe,
)
from .progress import ExtractProgress
from .report import ExtractReport
from .sinks import AtomicSink, CallableSink, CsvSink, FileSink, JsonlSink, ParquetSink, Sink, sink_for_path

__all__ = [
    "AtomicSink",
    "CallableSink",
    "CsvSink",
    "ExtractConfig",
    "ExtractProgress",
    "ExtractReport",
    "FileSink",
    "JsonlSink",
    "MeetingConverter",
    "ParquetSink",
    "Sink",
    "extract",
    "extract_batches",
    "extract_dataframe",
    "extract_dataframe_sync",
    "extract_table",
    "extract_table_sync",
    "extract_tables",
    "extract_to_path",
    "meetings_to_dataframe",
    "sink_for_path",
]
