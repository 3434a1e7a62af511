"""The one set of IANA timezone names: what it holds, and that names outside it never reach the file system."""

from __future__ import annotations

from zoneinfo import available_timezones

import pytest

from connector import timezones
from connector.emulator.timeutil import zone as emulator_zone
from connector.models import is_valid_timezone as models_is_valid_timezone
from connector.timezones import NON_CANONICAL, is_valid_timezone, known_timezones, zone

# Names that ZoneInfo opens (or fails on with an OSError) but that are no timezone a person means.
NOT_TIMEZONES = [
    pytest.param("America", id="tzdata-folder"),
    pytest.param("Europe", id="another-folder"),
    pytest.param("posixrules", id="posixrules"),
    pytest.param("Factory", id="factory"),
    pytest.param("localtime", id="localtime"),
    pytest.param("right/UTC", id="right-copy"),
    pytest.param("posix/Europe/Paris", id="posix-copy"),
    pytest.param("../zoneinfo/Europe/Paris", id="dot-dot"),
    pytest.param("/etc/localtime", id="absolute-path"),
    pytest.param("Europe/Paris\x00", id="nul"),
    pytest.param("a" * 300, id="over-255-characters"),
    pytest.param(" Europe/Paris", id="leading-space"),
    pytest.param("europe/paris", id="wrong-case"),
    pytest.param("Mars/Olympus", id="unknown"),
    pytest.param("", id="empty"),
    pytest.param(None, id="none"),
    pytest.param(5, id="a-number"),
]


@pytest.mark.parametrize("name", NOT_TIMEZONES)
def test_names_that_are_no_timezone_are_refused_without_raising(name: object) -> None:
    assert not is_valid_timezone(name)
    assert zone(name) is None
    assert emulator_zone(name) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "America/Argentina/Buenos_Aires",
        "Asia/Kathmandu",
        "Etc/GMT+5",
    ],
)
def test_iana_names_are_accepted(name: str) -> None:
    assert is_valid_timezone(name) and zone(name) is not None and emulator_zone(name) is not None


def test_the_set_is_built_once_and_holds_no_non_canonical_name() -> None:
    assert known_timezones() is known_timezones()
    names = known_timezones()
    assert len(names) > 400
    assert not names & NON_CANONICAL
    assert not [n for n in names if n.startswith(("posix/", "right/"))]


def test_models_use_the_same_rule() -> None:
    assert models_is_valid_timezone is is_valid_timezone


def test_the_packaged_names_are_known_ones_and_need_no_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name of tzdata's own list is judged from it: the system's tz database is walked only for other names."""
    assert 400 < len(timezones._packaged()) and timezones._packaged() <= known_timezones()
    walks: list[int] = []

    def walk() -> set[str]:
        walks.append(1)
        return available_timezones()

    monkeypatch.setattr(timezones, "available_timezones", walk)
    known_timezones.cache_clear()
    try:
        assert is_valid_timezone("UTC") and is_valid_timezone("Europe/Berlin")
        assert walks == []
        assert not is_valid_timezone("Mars/Olympus")
        assert not is_valid_timezone("Factory")  # listed by tzdata, refused all the same
        assert walks == [1]
    finally:
        known_timezones.cache_clear()  # the next caller walks the real database again
