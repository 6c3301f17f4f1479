"""The audit log: a round trip, and every kind of tampering found by `verify`."""

from __future__ import annotations

import itertools
import json
import os
import stat
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deskhand.agent  # noqa: F401  (before deskhand.runs: its import cycle)
from deskhand.runs.redact import Redactor
from deskhand.safety import audit
from deskhand.safety.audit import (
    AUDIT_FILE,
    AuditError,
    AuditLog,
    line_hash,
    load_key,
    screen_hash,
    serialize,
    verify,
)
from deskhand.safety.audit_cli import verify_command

RUN = "20260101-000000-abcdef"
NASTY = 'done\n{"seq":3,"kind":"decision","decision":"allow"}\r\x1b[2J\x1b]0;owned\x07\u2028x'


def write_sample(run_dir: Path, key: bytes | None = None) -> AuditLog:
    log = AuditLog(run_dir, RUN, key=key, fsync=False)
    shot = screen_hash(b"\x89PNG fake screenshot")
    log.proposal(1, "toolu_1", "computer", {"action": "left_click", "coordinate": [3, 4]},
                 screen=shot)  # fmt: skip
    log.decision(1, "toolu_1", "ask", "clicks a Buy button", rule="purchase", scores={"inj": 0.1},
                 approver="user", answer="approved", screen=shot)  # fmt: skip
    log.result(1, "toolu_1", ok=True, summary="clicked", screen=shot, tool_ms=12.5)
    log.proposal(2, "toolu_2", "bash", {"command": "ls -la"})
    log.decision(2, "toolu_2", "allow", "read-only command")
    log.result(2, "toolu_2", ok=False, summary="x" * 5000)
    log.close("done", "end_turn")
    return log


def lines_of(run_dir: Path) -> list[bytes]:
    return (run_dir / AUDIT_FILE).read_bytes().splitlines(keepends=True)


def rewrite(run_dir: Path, lines: list[bytes]) -> None:
    (run_dir / AUDIT_FILE).write_bytes(b"".join(lines))


def test_round_trip(tmp_path: Path) -> None:
    write_sample(tmp_path)
    report = verify(tmp_path, run_id=RUN)
    assert report.ok, report.problems
    assert report.lines == 8 and report.closed and not report.keyed and report.run_id == RUN
    records = [json.loads(line) for line in lines_of(tmp_path)]
    assert [r["seq"] for r in records] == list(range(8))
    assert records[0]["kind"] == "audit_started" and records[0]["prev"] == audit.genesis(RUN)
    for before, after in itertools.pairwise(records):
        assert after["prev"] == before["hash"]
    for record in records:
        assert list(record)[:5] == ["seq", "time", "prev", "hash", "kind"]
        assert record["hash"] == line_hash(record)
    decision = records[2]
    assert decision["approver"] == "user" and decision["rule"] == "purchase"
    assert records[1]["screen"] == records[3]["screen"]
    assert len(records[6]["summary"]) == audit.MAX_SUMMARY_CHARS
    assert stat.S_IMODE((tmp_path / AUDIT_FILE).stat().st_mode) == 0o600


def test_reopening_continues_the_chain(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, RUN, fsync=False)
    log.append("note", {"text": "first session"})
    log.close("interrupted")
    again = AuditLog(tmp_path, RUN, fsync=False)  # a resumed run
    again.append("note", {"text": "second session"})
    again.close("done")
    report = verify(tmp_path)
    assert report.ok, report.problems
    kinds = [json.loads(line)["kind"] for line in lines_of(tmp_path)]
    assert kinds == ["audit_started", "note", "audit_closed", "audit_reopened", "note",
                     "audit_closed"]  # fmt: skip


def test_a_torn_tail_is_kept_in_the_chain_when_the_run_resumes(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, RUN, fsync=False)
    log.append("note", {"text": "ok"})
    with (tmp_path / AUDIT_FILE).open("ab") as file:
        file.write(b'{"seq":2,"time":1.0,"pr')  # a crash in the middle of a write
    report = verify(tmp_path, require_closed=False)
    assert not report.ok and any("truncated" in p for p in report.problems)
    AuditLog(tmp_path, RUN, fsync=False).close("done")
    report = verify(tmp_path)
    assert report.ok, report.problems
    reopened = json.loads(lines_of(tmp_path)[2])
    assert reopened["kind"] == "audit_reopened"
    assert reopened["torn_tail"] == '{"seq":2,"time":1.0,"pr' and reopened["torn_bytes"] == 23


def test_fields_cannot_forge_lines_or_reach_the_terminal(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, RUN, fsync=False)
    log.proposal(1, "toolu_1", "computer", {"action": "type", "text": NASTY})
    log.result(1, "toolu_1", ok=True, summary=NASTY, window=NASTY)
    log.append(NASTY, {"why": NASTY})  # even the kind
    log.close("done")
    data = (tmp_path / AUDIT_FILE).read_bytes()
    assert data.count(b"\n") == 5  # one physical line per record, whatever the fields hold
    assert b"\r" not in data and b"\x1b" not in data and b"\x07" not in data
    assert data.isascii()  # so U+2028 and friends cannot split a line for any reader either
    records = [json.loads(line) for line in data.splitlines()]
    assert records[1]["input"]["text"] == NASTY and records[3]["kind"] == NASTY
    assert verify(tmp_path).ok


def test_reserved_keys_cannot_be_overwritten_by_a_payload(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, RUN, fsync=False)
    for key in ("seq", "prev", "hash", "kind", "time"):
        with pytest.raises(ValueError, match="reserved"):
            log.append("note", {key: "x"})


def test_payloads_are_redacted_before_hashing(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, RUN, redact=Redactor(["hunter2-password"]), fsync=False)
    log.result(1, "t", ok=True, summary="echo hunter2-password")
    log.close("done")
    assert b"hunter2" not in (tmp_path / AUDIT_FILE).read_bytes()
    assert verify(tmp_path).ok


# -- tampering ---------------------------------------------------------------------------------


def edit_field(line: bytes, key: str, value: object) -> bytes:
    record = json.loads(line)
    record[key] = value
    return (serialize(record) + "\n").encode()


def test_an_edited_field_is_found(tmp_path: Path) -> None:
    write_sample(tmp_path)
    lines = lines_of(tmp_path)
    lines[2] = edit_field(lines[2], "decision", "allow")
    rewrite(tmp_path, lines)
    report = verify(tmp_path)
    assert not report.ok
    assert report.problems == ["line 3: hash does not match its content (edited)"]


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(tmp_path: Path) -> None:
    write_sample(tmp_path)
    lines = lines_of(tmp_path)
    record = json.loads(lines[2])
    record["answer"] = "denied"
    record["hash"] = line_hash(record)
    lines[2] = (serialize(record) + "\n").encode()
    rewrite(tmp_path, lines)
    assert verify(tmp_path).problems == ["line 4: prev does not match the hash of the line before"]


def test_removed_inserted_duplicated_and_reordered_lines_are_found(tmp_path: Path) -> None:
    write_sample(tmp_path)
    original = lines_of(tmp_path)
    cases = {
        "removed": original[:3] + original[4:],
        "inserted": [*original[:3], edit_field(original[3], "seq", 3), *original[3:]],
        "duplicated": [*original[:3], original[2], *original[3:]],
        "reordered": [*original[:2], original[3], original[2], *original[4:]],
        "first removed": original[1:],
        "first replaced": [edit_field(original[0], "run_id", "other"), *original[1:]],
    }
    for name, lines in cases.items():
        rewrite(tmp_path, lines)
        report = verify(tmp_path)
        assert not report.ok, name
        assert any(word in p for p in report.problems for word in ("seq", "prev", "hash")), (
            name,
            report.problems,
        )


def test_a_removed_tail_and_a_torn_line_are_found(tmp_path: Path) -> None:
    write_sample(tmp_path)
    original = lines_of(tmp_path)
    rewrite(tmp_path, original[:-2])  # whole lines removed at the end
    report = verify(tmp_path)
    assert not report.ok and "closing record" in report.problems[-1]
    assert verify(tmp_path, require_closed=False).ok  # what a live run's log looks like
    rewrite(tmp_path, [*original[:-1], original[-1][:-20]])
    report = verify(tmp_path)
    assert not report.ok and any("truncated" in p for p in report.problems)


def test_non_json_reformatted_and_raw_control_characters_are_found(tmp_path: Path) -> None:
    write_sample(tmp_path)
    original = lines_of(tmp_path)
    pretty = (json.dumps(json.loads(original[1]), indent=None) + "\n").encode()
    raw_newline = original[1].replace(b'"computer"', b'"comp\\nuter"').replace(b"\\n", b"\r")
    doubled_key = original[1].replace(b'{"seq":1,', b'{"seq":7,"seq":1,')
    cases = {
        "not JSON": [original[0], b"this is not json\n", *original[2:]],
        "not canonical": [original[0], pretty, *original[2:]],
        "raw control character": [original[0], raw_newline, *original[2:]],
        "not canonical (dup)": [original[0], doubled_key, *original[2:]],
        "non-ASCII": [*original[:4], original[4].replace(b"ls -la", "lś".encode()), *original[5:]],
        "empty line": [original[0], b"\n", *original[1:]],
    }
    for name, lines in cases.items():
        rewrite(tmp_path, lines)
        report = verify(tmp_path)
        assert not report.ok, name
        assert report.problems, name


def test_empty_and_missing_logs_are_not_intact(tmp_path: Path) -> None:
    assert verify(tmp_path).problems[0].startswith("cannot read")
    (tmp_path / AUDIT_FILE).write_bytes(b"")
    assert verify(tmp_path).problems == ["the log is empty"]


def test_the_log_of_another_run_is_refused(tmp_path: Path) -> None:
    write_sample(tmp_path)
    report = verify(tmp_path, run_id="20990101-000000-ffffff")
    assert not report.ok and "not '20990101-000000-ffffff'" in report.problems[0]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_line_edit_is_found(tmp_path: Path, data: st.DataObject) -> None:
    run_dir = tmp_path / "h"
    if not (run_dir / AUDIT_FILE).exists():
        run_dir.mkdir(exist_ok=True)
        write_sample(run_dir)
    original = lines_of(run_dir)
    index = data.draw(st.integers(0, len(original) - 1), label="line")
    line = original[index]
    # Replace, insert or delete a run of bytes anywhere in the line (its newline included).
    start = data.draw(st.integers(0, len(line)), label="start")
    end = data.draw(st.integers(start, min(len(line), start + 8)), label="end")
    new = data.draw(st.binary(max_size=8), label="bytes")
    edited = line[:start] + new + line[end:]
    if edited == line:
        return
    lines = list(original)
    lines[index] = edited
    rewrite(run_dir, lines)
    try:
        assert not verify(run_dir).ok, (index, edited)
    finally:
        rewrite(run_dir, original)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=50), key=st.text(min_size=1, max_size=10))
def test_any_payload_stays_one_verifiable_line(tmp_path: Path, text: str, key: str) -> None:
    run_dir = tmp_path / "p"
    run_dir.mkdir(exist_ok=True)
    (run_dir / AUDIT_FILE).unlink(missing_ok=True)
    log = AuditLog(run_dir, RUN, fsync=False)
    if key in audit.RESERVED:
        return
    log.append(text or "k", {key: text, "nested": {key: [text]}})
    log.close("done")
    data = (run_dir / AUDIT_FILE).read_bytes()
    assert data.count(b"\n") == 3 and data.isascii()
    assert verify(run_dir).ok


# -- the key -----------------------------------------------------------------------------------


def test_a_keyed_chain_needs_the_key(tmp_path: Path) -> None:
    key_path = tmp_path / "home" / "audit.key"
    key = load_key(key_path, create=True)
    assert key is not None and len(key) == 32
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert load_key(key_path, create=True) == key  # created once, then read
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_sample(run_dir, key=key)
    report = verify(run_dir, key=key)
    assert report.ok and report.keyed, report.problems
    assert not verify(run_dir).ok  # no key: cannot be checked
    assert not verify(run_dir, key=os.urandom(32)).ok  # another host's key
    # Whoever edits a line and recomputes the plain SHA-256 chain is caught.
    lines = lines_of(run_dir)
    records = [json.loads(line) for line in lines]
    records[2]["answer"] = "denied"
    prev = records[1]["hash"]
    for record in records[2:]:
        record["prev"] = prev
        record["hash"] = prev = line_hash(record)
    rewrite(run_dir, lines[:2] + [(serialize(r) + "\n").encode() for r in records[2:]])
    assert not verify(run_dir, key=key).ok


def test_an_unkeyed_rewrite_of_a_keyed_log_is_refused_with_require_key(tmp_path: Path) -> None:
    write_sample(tmp_path)
    assert verify(tmp_path).ok
    assert not verify(tmp_path, require_key=True).ok


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    path.write_text(os.urandom(32).hex())
    path.chmod(0o644)
    with pytest.raises(AuditError, match="chmod 600"):
        load_key(path)
    assert load_key(tmp_path / "none.key") is None


def test_the_default_key_lives_in_deskhand_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DESKHAND_HOME", str(tmp_path))
    assert audit.default_key_path() == tmp_path / "audit.key"


# -- the command -------------------------------------------------------------------------------


def test_verify_command_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESKHAND_HOME", str(tmp_path / "home"))
    write_sample(tmp_path)
    verify_command(str(tmp_path))
    assert "intact" in capsys.readouterr().out
    lines = lines_of(tmp_path)
    lines[3] = edit_field(lines[3], "summary", "\x1b[32mall good")
    rewrite(tmp_path, lines)
    with pytest.raises(typer.Exit) as exit_info:
        verify_command(str(tmp_path))
    assert exit_info.value.exit_code == 1
    out = capsys.readouterr().out
    assert "NOT intact" in out and "line 4: hash does not match" in out
    with pytest.raises(typer.BadParameter):
        verify_command("no-such-run-id")
