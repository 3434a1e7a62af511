"""Reading one cell: the words a boolean cell may hold, addresses out of text and list cells, linked records."""

from __future__ import annotations

import numpy as np
import pytest

from connector.errors import shown
from connector.load.values import (
    BOOL_FALSE,
    BOOL_TRUE,
    is_blank,
    parse_bool,
    parse_emails,
    parse_linked_records,
)

UUID = "5e3b1b4a-0c7e-4a3e-9b1f-2d6f1c9a7e10"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        *[pytest.param(word, True, id=f"true-{word}") for word in sorted(BOOL_TRUE)],
        *[pytest.param(word, False, id=f"false-{word}") for word in sorted(BOOL_FALSE)],
        pytest.param("TRUE", True, id="excel-TRUE"),
        pytest.param(" No ", False, id="padded-No"),
        pytest.param(True, True, id="typed-true"),
        pytest.param(0, False, id="number-0"),
        pytest.param(1.0, True, id="float-1.0"),
        pytest.param(np.bool_(False), False, id="numpy-false"),
    ],
)
def test_boolean_words(cell: object, expected: bool) -> None:
    assert parse_bool(cell) is expected


@pytest.mark.parametrize(
    "cell",
    ["nein", "maybe", "ja", "non", "2", "-1", "0.5", "yes please", "truee", "none", "null", "✓"],
    ids=lambda v: f"refused-{v}",
)
def test_unknown_boolean_words_are_refused_never_true(cell: str) -> None:
    with pytest.raises(ValueError, match="is not true/false \\(use true/false, yes/no or 1/0\\)"):
        parse_bool(cell)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        pytest.param("a@example.com; b@example.com", ["a@example.com", "b@example.com"], id="semicolons"),
        pytest.param(
            "a@example.com,b@example.com\nc@example.com",
            ["a@example.com", "b@example.com", "c@example.com"],
            id="commas-lines",
        ),
        pytest.param("Ana <ana@acme.com>", ["ana@acme.com"], id="name-addr"),
        pytest.param(
            '"Smith, Ana" <ana@acme.com>; bo@acme.com',
            ["ana@acme.com", "bo@acme.com"],
            id="quoted-name-with-comma",
        ),
        pytest.param("'ana@acme.com'", ["ana@acme.com"], id="quoted-address"),
        # Left as they are, for the email check to refuse (not "repaired" into something else).
        pytest.param(
            "['a@example.com', 'b@example.com']",
            ["['a@example.com'", "'b@example.com']"],
            id="list-repr-text",
        ),
        pytest.param('"a"@b', ['"a"@b'], id="quoted-local-part"),
        pytest.param("a@b.com>", ["a@b.com>"], id="stray-bracket"),
        pytest.param("mailto:a@b.com", ["mailto:a@b.com"], id="mailto"),
        pytest.param(" ; , ", [], id="only-separators"),
    ],
)
def test_addresses_of_a_text_cell(cell: str, expected: list[str]) -> None:
    assert parse_emails(cell) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        pytest.param(["a@example.com", "b@example.com"], ["a@example.com", "b@example.com"], id="list"),
        pytest.param(("a@example.com",), ["a@example.com"], id="tuple"),
        pytest.param(
            np.array(["a@example.com", "Bo <b@example.com>"], dtype=object),
            ["a@example.com", "b@example.com"],
            id="numpy-array",
        ),
        pytest.param(["a@example.com", None, ""], ["a@example.com"], id="blank-elements"),
        pytest.param(
            [{"email_address": "a@example.com", "name": None, "is_organizer": True, "status": "accepted"}],
            ["a@example.com"],
            id="extract-struct",
        ),
        # An element is one address: separators inside it are not split, so the email check refuses it.
        pytest.param(
            ["a@example.com; b@example.com"], ["a@example.com; b@example.com"], id="element-with-separator"
        ),
    ],
)
def test_list_cells_give_one_address_per_element(cell: object, expected: list[str]) -> None:
    assert parse_emails(cell) == expected


def test_a_participant_struct_without_email_is_refused() -> None:
    with pytest.raises(ValueError, match="participant 2 of the list has no email_address"):
        parse_emails([{"email_address": "a@example.com"}, {"email_address": None, "name": "Ana"}])


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        pytest.param(f"companies:{UUID}; people:{UUID}", [("companies", UUID), ("people", UUID)], id="text"),
        pytest.param(
            [f"companies:{UUID}", f"deals:{UUID}"], [("companies", UUID), ("deals", UUID)], id="list-of-text"
        ),
        pytest.param([{"object": "companies", "record_id": UUID}], [("companies", UUID)], id="struct-object"),
        pytest.param(
            [{"object_slug": "people", "object_id": "x", "record_id": UUID}],
            [("people", UUID)],
            id="extract-struct",
        ),
    ],
)
def test_linked_records_from_text_and_list_cells(cell: object, expected: list[tuple[str, str]]) -> None:
    assert parse_linked_records(cell) == expected


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        pytest.param("companies", "'companies' is not object:record_id", id="no-colon"),
        pytest.param(["companies"], "'companies' is not object:record_id", id="list-element-no-colon"),
        pytest.param(
            [{"record_id": UUID}], "linked record 1 of the list needs object", id="struct-without-object"
        ),
    ],
)
def test_malformed_linked_records_are_refused(cell: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_linked_records(cell)


@pytest.mark.parametrize(
    ("cell", "blank"),
    [
        pytest.param([], True, id="empty-list"),
        pytest.param([None, " "], True, id="list-of-blanks"),
        pytest.param(np.array([], dtype=object), True, id="empty-array"),
        pytest.param(np.array(["a@b.com", "c@d.com"], dtype=object), False, id="array-of-two"),
        pytest.param(["a@b.com"], False, id="list-of-one"),
    ],
)
def test_list_cells_are_blank_only_when_every_element_is(cell: object, blank: bool) -> None:
    assert is_blank(cell) is blank


def test_a_huge_value_is_cut_in_messages() -> None:
    text = shown("x" * 5_000_000)
    assert len(text) < 100 and text.endswith("… (5000000 characters)")
    with pytest.raises(ValueError) as info:
        parse_bool("y" * 5_000_000)
    assert len(str(info.value)) < 200
