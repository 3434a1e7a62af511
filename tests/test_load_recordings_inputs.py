"""load-recordings' readers: WebVTT, SRT and segment tables from real files, and every bad input rejected with
its file, line (or row and column) and reason, through the real CLI in dry-run mode."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connector.cli import main
from connector.load.recordings.inputs import InputRejection, RecordingInput, list_inputs, read_inputs
from connector.load.recordings.mapping import RecordingsMapping, load_recordings_mapping
from connector.load.recordings.parsers import Segment, SpeakerRules

MEETING = "5d2f1e3a-7b8c-4d9e-8f0a-1b2c3d4e5f60"
OTHER = "6e3a2f4b-8c9d-4e0f-9a1b-2c3d4e5f6a71"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def only(path: Path, mapping: RecordingsMapping | None = None) -> RecordingInput | InputRejection:
    items = list(read_inputs(path, mapping or RecordingsMapping()))
    assert len(items) == 1, items
    return items[0]


def segments_of(path: Path, mapping: RecordingsMapping | None = None) -> list[tuple[Any, ...]]:
    item = only(path, mapping)
    assert isinstance(item, RecordingInput), item
    return [(s.speaker, s.start, s.end, s.speech, s.email) for s in item.segments]


# ------------------------------------------------------------------------------------------ WebVTT


def test_vtt_voice_tags_unicode_multiline_and_entities(tmp_path: Path) -> None:
    path = write(
        tmp_path / "call.vtt",
        "\ufeffWEBVTT - Teams export\nKind: captions\n\n"
        "NOTE a comment\nover two lines\n\n"
        "STYLE\n::cue { color: red }\n\n"
        "intro\n00:00:01.200 --> 00:00:04.800 align:start position:10%\n<v Ana Díaz>Bom dia, 予算 😀</v>\n\n"
        "00:05.000 --> 00:09.350\r\n<v.loud Bob Smith>Happy to be here.\r\nLet's go <b>through</b>\r\nthe plan.</v>\r\n\r\n"
        "01:00:00.000 --> 01:00:02.000\n<v Ana Díaz>Sure &amp; then &lt;budget&gt;</v> <v Bob Smith>ok</v>\n",
    )
    assert segments_of(path) == [
        ("Ana Díaz", 1.2, 4.8, "Bom dia, 予算 😀", None),
        ("Bob Smith", 5.0, 9.35, "Happy to be here. Let's go through the plan.", None),
        ("Ana Díaz", 3600.0, 3602.0, "Sure & then <budget>", None),
        ("Bob Smith", 3600.0, 3602.0, "ok", None),
    ]


def test_vtt_speaker_prefix_default_speaker_and_emails(tmp_path: Path) -> None:
    path = write(
        tmp_path / "zoom.vtt",
        "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\nChloé Martin: Welcome: all of you\n\n"
        "2\n00:00:02.000 --> 00:00:03.000\njust words\n\n3\n00:00:03.000 --> 00:00:03.000\n\u200b<i></i>\n",
    )
    rules = SpeakerRules(default_speaker="Unknown", emails=(("chloé martin", "chloe@acme.com"),))
    assert segments_of(path, RecordingsMapping(rules=rules)) == [
        ("Chloé Martin", 0.0, 2.0, "Welcome: all of you", "chloe@acme.com"),
        ("Unknown", 2.0, 3.0, "just words", None),
        ("Unknown", 3.0, 3.0, "\u200b", None),
    ]
    no_prefix = RecordingsMapping(rules=SpeakerRules(speaker_prefix=False, default_speaker="Room"))
    assert segments_of(path, no_prefix)[0] == ("Room", 0.0, 2.0, "Chloé Martin: Welcome: all of you", None)


# --------------------------------------------------------------------------------------------- SRT


def test_srt_cues_with_and_without_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path / "demo.srt",
        "1\n00:00:00,500 --> 00:00:03,000\nChloé Martin: Welcome.\n\n"
        "2\n00:00:03,200 --> 00:00:07,900 X1:10 X2:20\nDan Lee: Can you show the\n<i>reporting</i> view?\n\n\n"
        "00:01:00.000 --> 00:01:01.000\nDan Lee: no number, a dot\n",
    )
    assert segments_of(path) == [
        ("Chloé Martin", 0.5, 3.0, "Welcome.", None),
        ("Dan Lee", 3.2, 7.9, "Can you show the reporting view?", None),
        ("Dan Lee", 60.0, 61.0, "no number, a dot", None),
    ]


# ---------------------------------------------------------------------------------------- tables

HEADER = ["call_id", "meeting_id", "speaker", "email", "start_s", "end_s", "text"]
TABLE_MAPPING = """
[columns]
recording = "call_id"
start = "start_s"
end = "end_s"
speech = "text"
"""


def write_table(path: Path, rows: list[list[Any]], header: list[str] = HEADER) -> Path:
    if path.suffix == ".parquet":
        pq.write_table(pa.table({h: [r[i] for r in rows] for i, h in enumerate(header)}), path)
    else:
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([header, *rows])
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_segment_table_groups_rows_into_recordings(tmp_path: Path, suffix: str) -> None:
    rows = [
        ["c1", MEETING, "Erin Park", "erin@acme.com", "0", "2.5", "Hi everyone."],
        ["c2", OTHER, "Erin Park", "", "00:00:01.000", "1:02:03,5", "Quick — 予算"],
        ["c1", MEETING, "Farid Haddad", "farid@example.org", "2.6", "6.125", "Hello,\nErin"],
    ]
    path = write_table(tmp_path / f"segments{suffix}", rows)
    mapping = load_recordings_mapping(write(tmp_path / "m.toml", TABLE_MAPPING))
    items = list(read_inputs(path, mapping))
    assert [(i.label, i.meeting.value if i.meeting else None) for i in items] == [
        (f"segments{suffix}#c1", MEETING),
        (f"segments{suffix}#c2", OTHER),
    ]
    assert all(isinstance(i, RecordingInput) for i in items)
    first = (
        2 if suffix == ".csv" else 1
    )  # row numbers as the meetings loader counts them: a CSV's header is row 1
    assert items[0].segments == (
        Segment("Hi everyone.", 0.0, 2.5, "Erin Park", "erin@acme.com", first),
        Segment("Hello,\nErin", 2.6, 6.125, "Farid Haddad", "farid@example.org", first + 2),
    )
    assert items[1].segments == (Segment("Quick — 予算", 1.0, 3723.5, "Erin Park", None, first + 1),)


def test_parquet_numeric_times(tmp_path: Path) -> None:
    table = pa.table(
        {
            "meeting_id": [MEETING, MEETING],
            "speaker": ["A", "B"],
            "start": [0, 1.5],
            "end": [1.25, 2],
            "speech": ["one", "two"],
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    assert segments_of(tmp_path / "t.parquet") == [
        ("A", 0.0, 1.25, "one", None),
        ("B", 1.5, 2.0, "two", None),
    ]


def test_folder_lists_supported_files_sorted_and_skips_own_files(tmp_path: Path) -> None:
    for name in ("b.srt", "a.vtt", "c.csv", "notes.txt", "z.PARQUET", "out.csv"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    files, ignored = list_inputs(tmp_path, (tmp_path / "out.csv",))
    assert [p.name for p in files] == ["a.vtt", "b.srt", "c.csv", "z.PARQUET"]
    assert [p.name for p in ignored] == ["notes.txt"]


# ---------------------------------------------------------------------- rejections, through the CLI

VTT_CUE = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Ana>hello</v>\n\n"


def many_cues(n: int) -> str:
    def at(i: int, ms: int) -> str:
        return f"{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{ms:03d}"

    return "WEBVTT\n\n" + "".join(f"{at(i, 0)} --> {at(i, 500)}\nA: s{i}\n\n" for i in range(n))


BAD_FILES = [
    pytest.param(
        "t.vtt",
        VTT_CUE + "00:00:03.000 --> 00:00:0x.500\nA: b\n",
        "line 6: malformed timestamp '00:00:0x.500'",
        id="vtt-malformed-timestamp",
    ),
    pytest.param(
        "t.vtt",
        VTT_CUE + "00:00:03.000 --> 00:00:02.000\nA: b\n",
        "line 6: the cue ends (00:00:02.000) before it starts (00:00:03.000)",
        id="vtt-end-before-start",
    ),
    pytest.param(
        "t.vtt",
        "WEBVTT\n\n-00:00:01.000 --> 00:00:02.000\nA: b\n",
        "line 3: negative time '-00:00:01.000'",
        id="vtt-negative-start",
    ),
    pytest.param("t.vtt", "WEBVTT\n\nNOTE nothing said\n", "an empty transcript", id="vtt-empty"),
    pytest.param("t.vtt", "", "line 1: the file is empty: a WebVTT file starts with", id="vtt-empty-file"),
    pytest.param(
        "t.vtt",
        "1\n00:00:01,000 --> 00:00:02,000\nA: srt in disguise\n",
        "line 1: not a WebVTT file",
        id="vtt-no-header",
    ),
    pytest.param("t.vtt", VTT_CUE + "hello\nworld\n", "line 6: 'hello' starts no cue", id="vtt-stray-text"),
    pytest.param(
        "t.vtt",
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nno speaker\n",
        "line 3: no speaker for 'no speaker'",
        id="vtt-no-speaker",
    ),
    pytest.param(
        "t.vtt",
        many_cues(4001),
        "line 12003: segment 4,001 of 4,001; Attio takes at most 4,000",
        id="vtt-over-4000",
    ),
    pytest.param(
        "t.srt",
        "1\n00:00:01,000 --> 00:00:02,000\nA: ok\n\n2\n00:00:03,000 -> 00:00:04,000\nA: b\n",
        "line 6: malformed cue timing line '00:00:03,000 -> 00:00:04,000'",
        id="srt-bad-arrow",
    ),
    pytest.param(
        "t.srt",
        "1\n00:00:01,000 --> 00:00:02\nA: b\n",
        "line 2: malformed timestamp '00:00:02'",
        id="srt-malformed-timestamp",
    ),
    pytest.param(
        "t.srt", "1\n00:00:05,000 --> 00:00:02,000\nA: b\n", "line 2: the cue ends", id="srt-end-before-start"
    ),
    pytest.param("t.srt", "\n\n", "an empty transcript", id="srt-empty"),
    pytest.param("t.srt", "7\n", "line 1: cue 7 has no 'start --> end' line", id="srt-cut-off"),
]


def run_dry(
    tmp_path: Path, target: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, list[dict[str, str]], str]:
    results = tmp_path / "results.csv"
    code = main(["load-recordings", str(target), "--dry-run", "--results", str(results), "-q", *extra])
    out = capsys.readouterr()
    with open(results, newline="", encoding="utf-8") as f:
        return code, list(csv.DictReader(f)), out.out + out.err


@pytest.mark.parametrize(("name", "text", "reason"), BAD_FILES)
def test_bad_transcript_file_is_rejected_with_line_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, reason: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder / name, text)
    write(folder / "good.vtt", VTT_CUE)
    sidecar = write(tmp_path / "side.csv", f"file,meeting_id\n{name},{MEETING}\ngood.vtt,{OTHER}\n")
    mapping = write(tmp_path / "m.toml", f'[meeting]\nsidecar = "{sidecar.name}"\n')
    code, rows, out = run_dry(tmp_path, folder, capsys, "--mapping", str(mapping))
    assert code == 1
    by_input = {r["input"]: r for r in rows}
    assert set(by_input) == {name, "good.vtt"}
    assert by_input["good.vtt"]["outcome"] == "skipped"
    bad = by_input[name]
    assert (bad["outcome"], bad["meeting_id"]) == ("rejected", MEETING)
    assert reason in bad["reason"], bad["reason"]
    assert f"rejected: {name}: " in out and "Traceback" not in out


def test_bytes_that_are_not_utf8_name_their_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin.vtt"
    path.write_bytes(b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nA: caf\xe9\n")
    mapping = write(tmp_path / "m.toml", "[meeting]\nfilename_pattern = '(?P<meeting_id>x)'\n")
    code, rows, _ = run_dry(tmp_path, path, capsys, "--mapping", str(mapping))
    assert code == 1
    assert rows[0]["reason"] == "line 4: byte 0xe9 is not UTF-8 (transcripts are read as UTF-8)"


BAD_ROWS = [
    pytest.param(
        ["c1", MEETING, "A", "", "1:2:x", "3", "s"],
        "row 3, column 'start_s': '1:2:x' is not a time",
        id="malformed-time",
    ),
    pytest.param(
        ["c1", MEETING, "A", "", "-1", "3", "s"],
        "row 3, column 'start_s': negative time '-1'",
        id="negative-start",
    ),
    pytest.param(
        ["c1", MEETING, "A", "", "5", "3", "s"],
        "row 3, column 'end_s': the segment ends (3 s) before it starts (5 s)",
        id="end-before-start",
    ),
    pytest.param(
        ["c1", MEETING, "A", "not-an-email", "1", "3", "s"],
        "row 3, column 'email': 'not-an-email'",
        id="bad-email",
    ),
    pytest.param(
        ["c1", MEETING, "", "", "1", "3", "s"], "row 3, column 'speaker': no speaker", id="no-speaker"
    ),
    pytest.param(["c1", MEETING, "A", "", "1", "3", " "], "row 3, column 'text': no speech", id="no-speech"),
    pytest.param(
        ["c1", OTHER, "A", "", "1", "3", "s"],
        f"row 3, column 'meeting_id': meeting_id '{OTHER}' differs",
        id="two-meetings",
    ),
]


@pytest.mark.parametrize(("row", "reason"), BAD_ROWS)
def test_bad_table_row_rejects_its_recording_with_row_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], row: list[str], reason: str
) -> None:
    rows = [
        ["c1", MEETING, "A", "", "0", "1", "first"],
        row,
        ["c2", OTHER, "B", "", "0", "1", "other recording"],
    ]
    path = write_table(tmp_path / "segments.csv", rows)
    mapping = write(tmp_path / "m.toml", TABLE_MAPPING)
    code, results, _ = run_dry(tmp_path, path, capsys, "--mapping", str(mapping))
    assert code == 1
    by_input = {r["input"]: r for r in results}
    assert by_input["segments.csv#c2"]["outcome"] == "skipped"
    assert by_input["segments.csv#c1"]["outcome"] == "rejected"
    assert by_input["segments.csv#c1"]["reason"].startswith(reason), by_input["segments.csv#c1"]["reason"]


def test_table_without_a_mapped_column_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_table(
        tmp_path / "segments.csv",
        [["c1", MEETING, "A", "", "0", "1", "x"]],
        header=["call_id", "meeting_id", "speaker", "email", "from", "end_s", "text"],
    )
    code, rows, _ = run_dry(
        tmp_path, path, capsys, "--mapping", str(write(tmp_path / "m.toml", TABLE_MAPPING))
    )
    assert code == 1
    assert rows[0]["input"] == "segments.csv"
    assert rows[0]["reason"].startswith("row 1, column 'start_s': no column 'start_s' for start")


def test_table_over_4000_segments_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [["c1", MEETING, "A", "", str(i), str(i + 0.5), f"s{i}"] for i in range(4001)]
    path = write_table(tmp_path / "segments.csv", rows)
    code, results, _ = run_dry(
        tmp_path, path, capsys, "--mapping", str(write(tmp_path / "m.toml", TABLE_MAPPING))
    )
    assert code == 1
    assert (
        results[0]["reason"]
        == "row 4002: segment 4,001 of 4,001; Attio takes at most 4,000 segments per recording"
    )


def test_exactly_4000_segments_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / f"{MEETING}.vtt", many_cues(4000))
    mapping = write(tmp_path / "m.toml", "[meeting]\nfilename_pattern = '(?P<meeting_id>[0-9a-f-]{36})'\n")
    code, rows, _ = run_dry(tmp_path, path, capsys, "--mapping", str(mapping))
    assert code == 0
    assert (rows[0]["outcome"], rows[0]["meeting_id"], rows[0]["segments"]) == ("skipped", MEETING, "4000")


def test_no_meeting_and_a_bad_meeting_id_are_rejections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder / "a.vtt", VTT_CUE)
    write(folder / "b.vtt", VTT_CUE)
    sidecar = write(tmp_path / "side.csv", "file,external_ref\nb.vtt,ev-1\n")
    mapping = write(tmp_path / "m.toml", f'[meeting]\nsidecar = "{sidecar.name}"\n')
    code, rows, _ = run_dry(tmp_path, folder, capsys, "--mapping", str(mapping))
    assert code == 1
    by_input = {r["input"]: r["reason"] for r in rows}
    assert by_input["a.vtt"].startswith("no meeting for this transcript")
    assert by_input["b.vtt"].startswith(
        "external_ref 'ev-1' (sidecar side.csv row 2) needs the meetings ledger"
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        pytest.param("[columns]\nstrat = 'x'\n", "[columns] has unknown key 'strat'", id="unknown-key"),
        pytest.param("[meetings]\n", "unknown table [meetings]", id="unknown-table"),
        pytest.param(
            "[meeting]\nfilename_pattern = '(x'\n",
            "filename_pattern is not a regular expression",
            id="bad-regex",
        ),
        pytest.param(
            "[meeting]\nfilename_pattern = '(.*)'\n", "needs a group (?P<meeting_id>...)", id="no-group"
        ),
        pytest.param("[meeting]\nsidecar = 'nope.csv'\n", "sidecar file", id="missing-sidecar"),
        pytest.param(
            "[transcripts]\nspeaker_prefix = 'no'\n",
            "speaker_prefix must be true or false",
            id="bool-as-text",
        ),
        pytest.param("[speakers]\nAna = 'ana@'\n", "[speakers] 'Ana'", id="bad-speaker-email"),
        pytest.param("[meeting]\nmeetings_ledger = 'none.sqlite'\n", "meetings ledger", id="missing-ledger"),
        pytest.param(
            "[columns]\nmeeting_id = 'a'\nexternal_ref = 'b'\n",
            "maps both meeting_id and external_ref",
            id="both",
        ),
    ],
)
def test_a_bad_mapping_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, message: str
) -> None:
    write(tmp_path / "a.vtt", VTT_CUE)
    mapping = write(tmp_path / "m.toml", toml)
    results = tmp_path / "results.csv"
    code = main(
        [
            "load-recordings",
            str(tmp_path / "a.vtt"),
            "--mapping",
            str(mapping),
            "--dry-run",
            "--results",
            str(results),
            "-q",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and message in err, err
    assert not results.exists()


def test_an_unsupported_input_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "call.txt", "hello")
    assert main(["load-recordings", str(tmp_path / "call.txt"), "--dry-run", "-q"]) == 2
    assert "a transcript is a .vtt or .srt file" in capsys.readouterr().err


def test_the_sample_folder_is_valid(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1] / "sample_configs"
    code, rows, out = run_dry(
        tmp_path, root / "recordings", capsys, "--mapping", str(root / "recordings_mapping.toml")
    )
    assert code == 0, out
    assert [r["input"] for r in rows] == [
        "demo.srt",
        "kickoff.vtt",
        "segments.csv#gong-1001",
        "segments.csv#gong-1002",
    ]
    assert "read: demo.srt, kickoff.vtt, segments.csv" in out
