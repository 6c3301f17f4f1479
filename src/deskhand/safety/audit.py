"""The audit log: a hash-chained, append-only JSONL file (`audit.jsonl`) in a run's directory.

Each line is one JSON object

    {"seq": 0, "time": 1.7e9, "prev": "<hex>", "hash": "<hex>", "kind": "...", ...payload}

where `hash` is SHA-256 (or HMAC-SHA-256 with the host's audit key) over the canonical JSON of
the same object without `hash`. `prev` is the previous line's `hash`; the first line's `prev` is
a genesis value derived from the run id. Editing, removing, inserting, duplicating or reordering
any line breaks the chain, and `verify` says where.

Lines are written in one fixed form (the chain fields first, then the payload's keys sorted; no
spaces; ASCII only), so every control character (CR, LF, ESC...) and every non-ASCII character
inside a field is a JSON escape: a field can never end a line, start a forged one, or send escape
sequences to a terminal that `cat`s the file. `verify` refuses any line that is not
byte-for-byte in that form.

Without a key, anyone who can write the file can also recompute every hash after an edit: the
chain then shows accidents and clumsy edits, not a determined forger. With a key (`load_key`,
kept in `$DESKHAND_HOME/audit.key`, mode 0600, never in the run directory and never inside the
sandbox), recomputing needs the key. Removing the last lines of a log is caught by the closing
record `close()` writes at the end of a run (and, with a key, cannot be forged).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from deskhand.runs.redact import Redactor

# deskhand.runs is imported inside functions: importing it first, before deskhand.agent, runs
# into the import cycle runs.index -> agent -> agent.loop -> runs.index.

AUDIT_FILE: Final = "audit.jsonl"
KEY_FILE: Final = "audit.key"
VERSION: Final = 1
RESERVED: Final = frozenset({"seq", "time", "prev", "hash", "kind"})
ALG_SHA256: Final = "sha256"
ALG_HMAC: Final = "hmac-sha256"
MAX_SUMMARY_CHARS: Final = 2000
_MAX_TORN_BYTES = 4096


class AuditError(RuntimeError):
    """The audit log cannot be written or its key cannot be used."""


# -- hashing -----------------------------------------------------------------------------------


def canonical(record: Mapping[str, Any]) -> str:
    """The one JSON text of a record: sorted keys, no spaces, ASCII only, no NaN."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def serialize(record: Mapping[str, Any]) -> str:
    """The line as written: the chain fields first (seq, time, prev, hash, kind), then the
    payload's keys sorted; ASCII only, so a field can never break or forge a line."""
    head = {k: record[k] for k in ("seq", "time", "prev", "hash", "kind") if k in record}
    rest = {k: record[k] for k in sorted(record) if k not in head}
    return json.dumps({**head, **rest}, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def genesis(run_id: str) -> str:
    """The `prev` of a run's first line."""
    return hashlib.sha256(f"deskhand-audit-v{VERSION}:{run_id}".encode()).hexdigest()


def line_hash(record: Mapping[str, Any], key: bytes | None = None) -> str:
    """The `hash` of a record (computed over the record without its `hash` field)."""
    body = canonical({k: v for k, v in record.items() if k != "hash"}).encode("ascii")
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def key_id(key: bytes) -> str:
    """A short public name for a key, written in the log so the verifier knows which to use."""
    return hashlib.sha256(b"deskhand-audit-key:" + key).hexdigest()[:16]


def screen_hash(image: bytes) -> str:
    """The SHA-256 of the screenshot bytes a decision was made on (as saved in the record)."""
    return hashlib.sha256(image).hexdigest()


# -- the host's key ----------------------------------------------------------------------------


def default_key_path() -> Path:
    """`$DESKHAND_HOME/audit.key` (the folder of the run index when DESKHAND_HOME is unset)."""
    import deskhand.agent  # noqa: F401  (see above: the order avoids the import cycle)
    from deskhand.runs.index import default_index_path

    return default_index_path().parent / KEY_FILE


def load_key(path: Path | None = None, *, create: bool = False) -> bytes | None:
    """The host's audit key (32 random bytes, stored as hex, mode 0600), or None if there is
    none and `create` is false. A key file others can read is refused: it would let them forge
    a chain."""
    path = path or default_key_path()
    if create:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_hex(32) + "\n")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditError(f"cannot open the audit key {path}: {exc}") from exc
    with os.fdopen(fd, "r") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise AuditError(f"the audit key {path} is not a regular file")
        if info.st_mode & 0o077:
            raise AuditError(
                f"the audit key {path} is readable or writable by others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}"
            )
        text = file.read().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise AuditError(f"the audit key {path} is not hex text") from None
    if len(key) < 16:
        raise AuditError(f"the audit key {path} is shorter than 16 bytes")
    return key


# -- writing -----------------------------------------------------------------------------------


class AuditLog:
    """The audit log of one run. Opening an existing log continues its chain (a resumed run).

    `append` is thread-safe; each line is handed to the OS (and fsync'ed unless `fsync=False`)
    before it returns. Payloads are redacted with `redact` before they are hashed.
    """

    def __init__(
        self,
        run_dir: Path,
        run_id: str,
        *,
        key: bytes | None = None,
        redact: Redactor | None = None,
        fsync: bool = True,
    ) -> None:
        self.path = Path(run_dir) / AUDIT_FILE
        self.run_id = run_id
        import deskhand.agent  # noqa: F401  (see above: the order avoids the import cycle)
        from deskhand.runs.redact import Redactor, to_json_value

        self._to_json = to_json_value
        self.key = key
        self.redact = redact or Redactor()
        self.fsync = fsync
        self._lock = threading.Lock()
        self._seq = 0
        self._prev = genesis(run_id)
        existing = self._continue_existing()
        if existing is None:
            self._append_locked("audit_started", self._header())
        else:
            self._append_locked("audit_reopened", {**self._header(), **existing})

    def _header(self) -> dict[str, Any]:
        header: dict[str, Any] = {"run_id": self.run_id, "version": VERSION}
        if self.key is None:
            header["alg"] = ALG_SHA256
        else:
            header |= {"alg": ALG_HMAC, "key_id": key_id(self.key)}
        return header

    def _continue_existing(self) -> dict[str, Any] | None:
        """Pick up the chain of an existing log; None when there is none (or it is empty)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if not data:
            return None
        note: dict[str, Any] = {}
        if not data.endswith(b"\n"):  # a crash tore the last line: keep it as evidence, in-chain
            cut = data.rfind(b"\n") + 1
            torn = data[cut:]
            with self.path.open("r+b") as file:
                file.truncate(cut)
            note["torn_tail"] = torn[:_MAX_TORN_BYTES].decode("utf-8", "backslashreplace")
            note["torn_bytes"] = len(torn)
            data = data[:cut]
        for raw in reversed(data.split(b"\n")[:-1]):
            try:
                last = json.loads(raw)
                seq, digest = last["seq"], last["hash"]
            except (ValueError, KeyError, TypeError):
                continue
            if type(seq) is int and isinstance(digest, str):
                self._seq, self._prev = seq + 1, digest
                return note
        note["unreadable"] = True  # nothing to chain to: start over from the genesis value
        return note

    def append(self, kind: str, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Write one line; returns the record as written (with its seq and hash)."""
        with self._lock:
            return self._append_locked(kind, payload or {})

    def _append_locked(self, kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(kind, str) or not kind:
            raise ValueError("an audit record needs a kind")
        clash = RESERVED & set(payload)
        if clash:
            raise ValueError(f"payload keys {sorted(clash)} are reserved for the chain")
        body = self.redact(self._to_json(dict(payload)))
        record: dict[str, Any] = {
            **body,
            "seq": self._seq,
            "time": time.time(),
            "prev": self._prev,
            "kind": self.redact.text(kind),
        }
        record["hash"] = line_hash(record, self.key)
        line = (serialize(record) + "\n").encode("ascii")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise AuditError(f"short write to {self.path}: {written} of {len(line)} bytes")
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        self._seq += 1
        self._prev = record["hash"]
        return record

    # -- typed helpers for one step ------------------------------------------------------------

    def proposal(
        self,
        step: int,
        tool_use_id: str,
        tool: str,
        tool_input: Mapping[str, Any],
        *,
        screen: str | None = None,
        turn: str | None = None,
    ) -> dict[str, Any]:
        """The model proposed a tool call; `screen` = `screen_hash` of the screenshot it saw."""
        return self.append(
            "proposal",
            {
                "step": step,
                "tool_use_id": tool_use_id,
                "tool": tool,
                "input": dict(tool_input),
                "screen": screen,
                "turn": turn,
            },
        )

    def decision(
        self,
        step: int,
        tool_use_id: str,
        decision: str,
        reason: str,
        *,
        rule: str | None = None,
        scores: Mapping[str, float] | None = None,
        approver: str | None = None,
        answer: str | None = None,
        screen: str | None = None,
    ) -> dict[str, Any]:
        """The policy's decision on a proposal (allow, ask, deny...), and who approved it."""
        return self.append(
            "decision",
            {
                "step": step,
                "tool_use_id": tool_use_id,
                "decision": decision,
                "reason": reason,
                "rule": rule,
                "scores": dict(scores) if scores else None,
                "approver": approver,
                "answer": answer,
                "screen": screen,
            },
        )

    def result(
        self,
        step: int,
        tool_use_id: str,
        *,
        ok: bool,
        summary: str,
        screen: str | None = None,
        window: str | None = None,
        url: str | None = None,
        tool_ms: float | None = None,
    ) -> dict[str, Any]:
        """What a tool call did: its (clipped) output or error, and the screen it left."""
        if len(summary) > MAX_SUMMARY_CHARS:
            summary = summary[: MAX_SUMMARY_CHARS - 1] + "…"
        return self.append(
            "result",
            {
                "step": step,
                "tool_use_id": tool_use_id,
                "ok": ok,
                "summary": summary,
                "screen": screen,
                "window": window,
                "url": url,
                "tool_ms": tool_ms,
            },
        )

    def close(self, status: str, reason: str = "") -> dict[str, Any]:
        """The last line of a run: without it, `verify` reports the log as cut short."""
        return self.append("audit_closed", {"status": status, "reason": reason})


# -- verifying ---------------------------------------------------------------------------------


@dataclass
class VerifyReport:
    ok: bool
    lines: int
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    run_id: str | None = None
    keyed: bool = False
    closed: bool = False


def verify(
    path: Path,
    *,
    key: bytes | None = None,
    run_id: str | None = None,
    require_closed: bool = True,
    require_key: bool = False,
) -> VerifyReport:
    """Check an audit log line by line. `path` is the log or its run directory.

    Reports (with line numbers) every line that is not canonical JSON, has a wrong hash, a `seq`
    out of order or a `prev` that is not the previous line's hash, a torn last line, and a log
    that does not end with a closing record (`require_closed`). A keyed log needs `key`;
    `require_key` also refuses unkeyed logs (someone may have rewritten a keyed one without it).
    """
    path = Path(path)
    if path.is_dir():
        path = path / AUDIT_FILE
    report = VerifyReport(ok=False, lines=0)
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.problems.append(f"cannot read {path}: {exc.strerror or exc}")
        return report
    if not data:
        report.problems.append("the log is empty")
        return report
    raw_lines = data.split(b"\n")
    if raw_lines[-1]:
        report.problems.append(
            f"line {len(raw_lines)}: truncated (the file does not end with a newline)"
        )
    else:
        raw_lines.pop()
    report.lines = len(raw_lines)

    problems = report.problems
    expected_seq = 0
    prev: str | None = None  # known after the first line (it names the run)
    alg: str | None = None
    last_kind: str | None = None
    for number, raw in enumerate(raw_lines, start=1):
        record = _parse_line(raw, number, problems)
        if record is None:
            prev, last_kind = None, None  # resynchronise on the next readable line
            expected_seq += 1
            continue
        seq, kind = record["seq"], record["kind"]
        if number == 1:
            alg = _check_header(record, key, run_id, require_key, report)
            prev = genesis(report.run_id) if report.run_id else None
        elif kind == "audit_started":
            problems.append(f"line {number}: a second start record inside the log")
        if seq != expected_seq:
            problems.append(f"line {number}: seq {seq} where {expected_seq} was expected")
        if prev is not None and record["prev"] != prev:
            problems.append(f"line {number}: prev does not match the hash of the line before")
        used_key = key if alg == ALG_HMAC else None
        if alg == ALG_HMAC and key is None:
            pass  # already reported once; the hashes cannot be checked
        elif not hmac.compare_digest(line_hash(record, used_key), record["hash"]):
            problems.append(f"line {number}: hash does not match its content (edited)")
        expected_seq = seq + 1
        prev = record["hash"]
        last_kind = kind
    report.closed = last_kind == "audit_closed"
    if require_closed and not report.closed and report.lines:
        problems.append(
            "the log does not end with a closing record: the run is still going or crashed,"
            " or its last lines were removed"
        )
    report.ok = not problems
    return report


def _parse_line(raw: bytes, number: int, problems: list[str]) -> dict[str, Any] | None:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        problems.append(f"line {number}: raw non-ASCII bytes (every line is escaped ASCII)")
        return None
    if any(ch < " " or ch == "\x7f" for ch in text):
        problems.append(f"line {number}: a raw control character (CR, ESC...) in the line")
        return None
    try:
        record = json.loads(text)
    except ValueError:
        problems.append(f"line {number}: not JSON")
        return None
    if not isinstance(record, dict):
        problems.append(f"line {number}: not a JSON object")
        return None
    missing = [k for k in ("seq", "time", "prev", "hash", "kind") if k not in record]
    if missing:
        problems.append(f"line {number}: missing {', '.join(missing)}")
        return None
    if (
        type(record["seq"]) is not int
        or not isinstance(record["prev"], str)
        or not isinstance(record["hash"], str)
        or not isinstance(record["kind"], str)
        or not isinstance(record["time"], int | float)
    ):
        problems.append(f"line {number}: seq, time, prev, hash or kind has the wrong type")
        return None
    try:
        canon = serialize(record)
    except ValueError:
        canon = ""
    if canon != text:  # reformatted, keys reordered, or a key given twice
        problems.append(f"line {number}: not in canonical form (the line was rewritten)")
    return record


def _check_header(
    record: dict[str, Any],
    key: bytes | None,
    run_id: str | None,
    require_key: bool,
    report: VerifyReport,
) -> str | None:
    problems = report.problems
    if record["kind"] != "audit_started":
        problems.append("line 1: the log does not begin with its start record")
        return None
    found_run = record.get("run_id")
    report.run_id = found_run if isinstance(found_run, str) else None
    if report.run_id is None:
        problems.append("line 1: the start record names no run")
    elif run_id is not None and report.run_id != run_id:
        problems.append(f"line 1: the log is of run {report.run_id!r}, not {run_id!r}")
    alg = record.get("alg")
    if alg == ALG_HMAC:
        report.keyed = True
        if key is None:
            problems.append("the log is keyed (HMAC) but no audit key was given: cannot check it")
        elif record.get("key_id") != key_id(key):
            problems.append(
                f"the log was keyed with key {record.get('key_id')!r}, not this host's"
                f" {key_id(key)!r}"
            )
    elif alg == ALG_SHA256:
        if require_key:
            problems.append("the log is not keyed, but a keyed log was required")
        else:
            report.warnings.append(
                "the chain is not keyed: whoever can write the file can also recompute it"
            )
    else:
        problems.append(f"line 1: unknown hash algorithm {alg!r}")
    return alg if isinstance(alg, str) else None
