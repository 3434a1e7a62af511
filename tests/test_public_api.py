"""The public surface stays honest: everything in __all__ exists, is sorted, and nothing private leaks in."""

import connector


def test_all_is_sorted_and_importable() -> None:
    assert connector.__all__ == sorted(connector.__all__)
    for name in connector.__all__:
        assert hasattr(connector, name), name


def test_entry_points_are_public() -> None:
    for name in ("AttioClient", "SyncAttioClient", "MeetingQuery", "extract", "extract_to_path", "load", "load_sync"):
        assert name in connector.__all__
