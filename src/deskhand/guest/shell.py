"""Persistent bash shells inside the desktop, one per session name, for the bash tool.

How a command runs. Each session is one `bash --norc --noprofile --noediting -i` with pipes for
stdin, stdout and stderr, in its own session (setsid), with job control on (`set -m`) so that
every job gets its own process group. A command is written to a private file and the shell is
sent one line that sources it: `{ . FILE ; } </dev/null`. Sourcing means an unterminated quote or
heredoc is a syntax error instead of a shell waiting for more input. stdin is /dev/null, so a
program that reads stdin (cat, python's input(), an installer's prompt) gets end-of-file at once
instead of hanging until the timeout; /dev/tty does not exist either (no controlling terminal).

When a call ends. The shell is interactive so that its PROMPT_COMMAND runs after every command
line, including one aborted by an interrupt; it prints a marker line carrying the call's random
nonce and `$?` on stdout, and the nonce on stderr, through copies of the pipes kept on fds 63 and
64 (so `exec 2>&1` or `exec >log` in a command does not hide them). Output is read up to the
markers, never up to end-of-file: background jobs (`cmd &`, nohup, setsid, GUI programs) keep the
pipes open and keep running. Only the first and last bytes of a flood are kept.

Timeouts behave like Ctrl-C in a terminal: SIGINT goes to the foreground job's process group (the
newest job started by this call that is still running; or to bash itself when the command is a
builtin loop), and an interactive bash abandons the rest of the command line, functions and loops
included. A job that ignores SIGINT gets SIGTERM, then SIGKILL; a job that starts meanwhile gets
SIGINT first too (only a job that dies of SIGINT makes bash abandon the line). The shell, its
working directory and its variables survive. Only if bash still does not answer is it replaced
by a new shell in the same directory, and the result says so.

Containment. bash is a child subreaper, so everything it starts (double-forked and setsid'd
programs too) stays in its process tree, and restarting the shell kills all of it. A watchdog
counts the tree every 50 ms; past 512 processes (a fork bomb) every process of the shell is
killed and a new shell started; the shell's session has the lowest CPU priority (autogroup nice
19), so the guest and the desktop stay responsive under any load it makes. The shell and its
children get a data-size limit (half the RAM, at most 8 GiB) and the highest OOM score, so a
memory hog fails or is killed before the desktop.
RLIMIT_NPROC would be simpler but is not enforced: the sandbox's user maps to the host's root.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import resource
import secrets
import shlex
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from deskhand.guest import processes
from deskhand.tools import output

if TYPE_CHECKING:
    from deskhand.guest.service import Handler, Result

SHELL_ARGV = ("bash", "--norc", "--noprofile", "--noediting", "-i")
MAX_COMMAND_CHARS = 1_000_000
MAX_TIMEOUT = 3600.0
MAX_OUTPUT_CHARS = 1_000_000
MAX_SESSIONS = 8
PROCESS_LIMIT = 512
WATCH_INTERVAL = 0.05
START_TIMEOUT = 10.0
START_CHATTER_CHARS = 2000
MAX_DATA_BYTES = 8 * 1024**3
OOM_SCORE_ADJ = 1000
# The shell's session (its own scheduler autogroup) yields the CPU to the desktop and the guest
# when they compete: the screen and the guest stay responsive, and a fork bomb cannot starve the
# watchdog that kills it (containment: 0.2 s instead of several seconds).
AUTOGROUP_NICE = 19
# How long each interrupt step (SIGINT, SIGTERM, SIGKILL to the foreground job) may take to
# bring the shell back before the next, stronger step.
INTERRUPT_STEPS = ((signal.SIGINT, 0.5), (signal.SIGTERM, 1.0), (signal.SIGKILL, 1.0))
# Jobs that keep starting (each gets the steps anew) are interrupted this many times at most.
INTERRUPT_ROUNDS = 2 * len(INTERRUPT_STEPS)
# After bash exits, how long its last output may take to arrive through the pipes.
DRAIN_SECONDS = 0.2
KILL_SECONDS = 5.0
READ_CHUNK = 64 * 1024
# Bytes kept from each end of a stream per character of output limit (UTF-8: at most 4 bytes).
BYTES_PER_CHAR = 4
MARKER_FDS = (63, 64)
_MAX_MARKER_LINE = 128
_NEW_SHELL = (
    "a new shell was started in {cwd}; variables, functions and background jobs of the old shell"
    " are gone."
)


class ShellError(RuntimeError):
    """bash could not be started or did not come up."""


def _check_command(command: str) -> str:
    if "\x00" in command:
        raise ValueError(f"command contains a NUL byte at index {command.index(chr(0))}")
    try:
        command.encode()
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"command is not valid Unicode (lone surrogate at index {exc.start})"
        ) from None
    return command


SessionName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Command = Annotated[str, Field(max_length=MAX_COMMAND_CHARS), AfterValidator(_check_command)]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RunArgs(_Args):
    session: SessionName = "default"
    command: Command
    timeout: Annotated[float, Field(gt=0, le=MAX_TIMEOUT, allow_inf_nan=False)] = 120.0
    max_output: Annotated[int, Field(ge=1, le=MAX_OUTPUT_CHARS)] = 30_000


class SessionArgs(_Args):
    session: SessionName = "default"


ArgsT = TypeVar("ArgsT", bound=BaseModel)


def _handler(model: type[ArgsT], func: Callable[[ArgsT], Awaitable[Result]]) -> Handler:
    async def handler(raw: dict[str, Any]) -> Result:
        return await func(model.model_validate(raw))

    return handler


class ShellService:
    """The `shell.*` operations: named persistent shells in the desktop's environment."""

    def __init__(self, env: dict[str, str], home: Path) -> None:
        self.env = env
        self.home = home
        self.shells: dict[str, Shell] = {}
        runtime = env.get("XDG_RUNTIME_DIR")
        parent = runtime if runtime and Path(runtime).is_dir() else None
        self.workdir = Path(tempfile.mkdtemp(prefix="deskhand-shells-", dir=parent))

    def handlers(self) -> dict[str, Handler]:
        return {
            "shell.run": _handler(RunArgs, self.run),
            "shell.restart": _handler(SessionArgs, self.restart),
        }

    def _shell(self, session: str) -> Shell:
        shell = self.shells.get(session)
        if shell is None:
            if len(self.shells) >= MAX_SESSIONS:
                raise ValueError(f"too many shell sessions (at most {MAX_SESSIONS})")
            shell = self.shells[session] = Shell(self.env, self.home, self.workdir / session)
        return shell

    async def run(self, args: RunArgs) -> Result:
        shell = self._shell(args.session)
        # A request cancelled half-way (its connection closed) must not leave the shell in the
        # middle of a command: the call runs to its end (bounded by its timeout) regardless.
        call = asyncio.ensure_future(shell.run(args.command, args.timeout, args.max_output))
        return await asyncio.shield(call), b""

    async def restart(self, args: SessionArgs) -> Result:
        await self._shell(args.session).restart()
        return {}, b""

    async def close(self) -> None:
        for shell in self.shells.values():
            await shell.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class CallResult:
    stdout: str
    stderr: str
    exit_code: int | None
    timed_out: bool = False
    restarted: bool = False
    note: str | None = None


class Shell:
    """One persistent bash, replaced by a new one when it dies or stops answering."""

    def __init__(self, env: dict[str, str], home: Path, workdir: Path) -> None:
        self.env = {**env, "TERM": "dumb", "PAGER": "cat"}  # no tty: no pagers, no colours
        self.home = home
        self.workdir = workdir
        self.command_path = workdir / "command"
        self.cwd = home
        self.lock = asyncio.Lock()
        self.proc: asyncio.subprocess.Process | None = None
        self.exited: asyncio.Future[None] | None = None
        self.watchdog: asyncio.Task[None] | None = None
        self.prefix = b""
        self.leftover = (b"", b"")  # what followed the last markers: the next call's output
        self.contained: str | None = None  # set by the watchdog when it killed the shell
        self.closed = False

    async def run(self, command: str, timeout: float, max_output: int) -> dict[str, Any]:
        async with self.lock:
            restarted, note = await self._ensure_running()
            call = await self._send(command, max_output)
            timed_out = not await self._wait(call, timeout) and not call.lost
            finished = await self._interrupt(call) if timed_out else not call.lost
            exit_code = None if timed_out else call.exit_code()
            if not finished:
                exit_code, note = await self._recover(timed_out)
                restarted = True
            self._remember_cwd()
            # Errors name the sourced file; show them as `bash -c` would: "bash: line 1: ...".
            stderr = call.err.text(max_output).replace(f"{self.command_path}: ", "")
            result = CallResult(
                call.out.text(max_output),
                stderr,
                exit_code,
                timed_out,
                restarted,
                note,
            )
            return dataclasses.asdict(result)

    async def restart(self) -> None:
        async with self.lock:
            await self._stop()
            self.cwd = self.home
            await self._start()

    async def close(self) -> None:
        # Not under the lock: a running command must not delay the desktop's shutdown.
        self.closed = True
        await self._stop()

    # -- life cycle ---------------------------------------------------------------------------

    def _alive(self) -> bool:
        return self.exited is not None and not self.exited.done()

    async def _ensure_running(self) -> tuple[bool, str | None]:
        """Start the shell if needed; (restarted, why) when an earlier one died between calls."""
        if self._alive():
            return False, None
        if self.proc is None:
            await self._start()
            return False, None
        _, note = await self._recover(timed_out=False)
        return True, note

    async def _recover(self, timed_out: bool) -> tuple[int | None, str]:
        """Replace a shell that died or did not come back; the exit code and the model's note."""
        status = self.proc.returncode if self.proc is not None else None
        await self._stop()
        note = self.contained or _death_note(status, timed_out)
        await self._start()
        exit_code = status if status is not None and status >= 0 and not timed_out else None
        return exit_code, note.format(cwd=self.cwd)

    async def _start(self) -> None:
        if self.closed:
            raise ShellError("the desktop is shutting down")
        self.workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        cwd = self.cwd if self.cwd.is_dir() else self.home
        self.cwd = cwd
        memory = _memory_limit()
        loop = asyncio.get_running_loop()
        protocol = _ShellProtocol(READ_CHUNK, loop)

        async def start_bash() -> asyncio.subprocess.Process:
            transport, _ = await loop.subprocess_exec(
                lambda: protocol,
                *SHELL_ARGV,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=lambda: _setup_shell_process(memory),
            )
            return asyncio.subprocess.Process(transport, protocol, loop)

        self.proc = await processes.own(start_bash())
        self.exited = protocol.exited
        self.contained = None
        self.prefix = f"__deskhand_{secrets.token_hex(8)}_".encode()
        self.leftover = (b"", b"")
        call = await self._send_line(self._init_line, START_CHATTER_CHARS)
        if not await self._wait(call, START_TIMEOUT):
            await self._stop()
            raise ShellError(f"bash did not start: {call.err.text(START_CHATTER_CHARS)!r}")
        self.leftover = (b"", b"")  # bash's start-up chatter about job control
        self.watchdog = asyncio.create_task(self._watch(self.proc.pid))

    def _init_line(self, nonce: str) -> str:
        out, err = MARKER_FDS
        prefix = self.prefix.decode()
        prompt = (
            f'{{ __dh_s=$?; printf "{prefix}%s %d\\n" "$__dh_m" "$__dh_s" >&{out};'
            f' printf "{prefix}%s\\n" "$__dh_m" >&{err}; }} 2>/dev/null'
        )
        return (
            f"set +H +o history -m; unset HISTFILE MAILCHECK; PS1= PS2= PS0=;"
            f' exec {out}>&1 {err}>&2; __dh_status() {{ return "${{1:-0}}"; }};'
            f" PROMPT_COMMAND={shlex.quote(prompt)}; readonly PROMPT_COMMAND;"
            f" __dh_s=0; __dh_m={nonce}\n"
        )

    async def _stop(self) -> None:
        """Kill the shell and everything it started. (The zombies of its killed processes are
        re-parented to the guest, whose reaper collects them: see `processes`.)"""
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        if self.proc is not None and self.exited is not None:
            self._remember_cwd()
            await asyncio.to_thread(_kill_session, self.proc.pid, self._alive())
            await self.exited

    def _remember_cwd(self) -> None:
        # Read after every call so that a shell that dies later is replaced in the same place.
        if self.proc is not None and self._alive():
            with contextlib.suppress(OSError):
                self.cwd = Path(f"/proc/{self.proc.pid}/cwd").readlink()

    async def _watch(self, pid: int) -> None:
        """Contain fork bombs: kill the whole shell when its process tree grows past the limit."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            if _process_count() > PROCESS_LIMIT and _tree_size(pid, PROCESS_LIMIT) > PROCESS_LIMIT:
                self.contained = (
                    f"The shell's processes went past {PROCESS_LIMIT} (a fork bomb?), so all of"
                    f" them were killed; {_NEW_SHELL}"
                )
                await asyncio.to_thread(_kill_session, pid, True)
                return

    # -- one call -----------------------------------------------------------------------------

    async def _send(self, command: str, max_output: int) -> _Call:
        self.command_path.write_bytes(command.encode())
        source = f"{{ . {shlex.quote(str(self.command_path))} ; }} </dev/null"
        # The nonce is set and `$?` restored (so `$?` reaches the next call) in a group whose
        # stderr is /dev/null: a user's `set -x` does not trace this plumbing. `&& :` keeps a
        # non-zero `$?` from tripping a user's `set -e`.
        return await self._send_line(
            lambda nonce: (
                f'{{ __dh_m={nonce}; __dh_status "$__dh_s" && :; }} 2>/dev/null; {source}\n'
            ),
            max_output,
        )

    async def _send_line(self, build: Callable[[str], str], max_output: int) -> _Call:
        assert self.proc is not None and self.proc.stdin is not None
        nonce = secrets.token_hex(8)
        keep = max_output * BYTES_PER_CHAR
        call = _Call(
            _Stream(self.prefix, nonce, keep, self.leftover[0]),
            _Stream(self.prefix, nonce, keep, self.leftover[1]),
            processes.children(self.proc.pid),
        )
        # A dead shell cannot take the line; the wait that follows notices that it exited.
        with contextlib.suppress(ConnectionError):
            self.proc.stdin.write(build(nonce).encode())
            await self.proc.stdin.drain()
        call.task = asyncio.create_task(self._pump(call))
        return call

    async def _pump(self, call: _Call) -> None:
        assert self.proc is not None and self.proc.stdout and self.proc.stderr
        await asyncio.gather(
            _read_until_marker(self.proc.stdout, call.out),
            _read_until_marker(self.proc.stderr, call.err),
        )

    async def _wait(self, call: _Call, seconds: float) -> bool:
        """Wait up to `seconds` for the call's markers.

        False on timeout, and also, with `call.lost` set, when the shell is gone: it exited, it
        closed its pipes (only a dying bash does), or the watchdog is killing it. Output printed
        until then is kept.
        """
        assert call.task is not None and self.exited is not None
        await asyncio.wait({call.task, self.exited}, timeout=seconds, return_when="FIRST_COMPLETED")
        if self.exited.done() and not call.task.done():
            await asyncio.wait({call.task}, timeout=DRAIN_SECONDS)
        elif call.task.done() and not call.finished:  # pipes closed: bash is exiting
            await asyncio.wait({self.exited}, timeout=DRAIN_SECONDS)
        if call.finished and self.contained is None:
            self.leftover = (call.out.leftover, call.err.leftover)
            return True
        if self.exited.done() or call.task.done() or self.contained is not None:
            call.lost = True
            call.abandon()
            self.leftover = (b"", b"")
        return False

    async def _interrupt(self, call: _Call) -> bool:
        """Ctrl-C, then harder: True once the shell is back at its prompt.

        The steps escalate job by job: a job that starts meanwhile (it was being forked when
        the timeout fired, or an earlier job ignored SIGINT and ended) gets SIGINT first too.
        Only a job that dies of SIGINT makes bash abandon the rest of the command line.
        """
        assert self.proc is not None
        steps_taken: dict[int | None, int] = {}  # foreground group (None: bash) -> steps sent
        for _ in range(INTERRUPT_ROUNDS):
            group = _foreground_group(self.proc.pid, call.before)
            step = steps_taken.get(group, 0)
            if step == len(INTERRUPT_STEPS):
                break
            steps_taken[group] = step + 1
            sig, seconds = INTERRUPT_STEPS[step]
            with contextlib.suppress(ProcessLookupError):
                if group is not None:
                    os.killpg(group, sig)
                else:  # a builtin loop: only bash itself can be interrupted
                    os.kill(self.proc.pid, signal.SIGINT)
            if await self._wait(call, seconds):
                return True
            if call.lost:
                return False
        call.abandon()
        self.leftover = (b"", b"")
        return False


class _ShellProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Says when bash exits even if its background jobs keep the pipes open (which makes
    `Process.wait()` wait for them too)."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


def _death_note(status: int | None, timed_out: bool) -> str:
    """Why the shell had to be replaced, for the model; `{cwd}` is filled in later."""
    if timed_out:
        return f"The command did not stop when interrupted, so the shell was replaced: {_NEW_SHELL}"
    if status is not None and status >= 0:
        return (
            f"The shell exited with status {status} (`exit`, or a failure under `set -e`);"
            f" {_NEW_SHELL}"
        )
    name = signal.Signals(-status).name if status is not None else "a signal"
    hint = " (out of memory?)" if status == -signal.SIGKILL else ""
    return f"The shell was killed by {name}{hint}; {_NEW_SHELL}"


@dataclass
class _Call:
    out: _Stream
    err: _Stream
    before: set[int]  # bash's children when the call started: not its foreground job
    task: asyncio.Task[None] | None = None
    lost: bool = False  # the shell went away before answering

    @property
    def finished(self) -> bool:
        return self.out.done and self.err.done

    def exit_code(self) -> int | None:
        status = self.out.status.strip()
        return int(status) if status.isdigit() else None

    def abandon(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.out.flush()
        self.err.flush()


class _Capture:
    """Bounded output of one stream: its first and last `keep` bytes and how much fell between."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0  # characters (estimated from the bytes) between head and tail

    def add(self, data: bytes | bytearray) -> None:
        room = self.keep - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > 2 * self.keep:  # trim in batches: amortised O(1) per byte
            self._trim()

    def _trim(self) -> None:
        excess = len(self.tail) - self.keep
        if excess > 0:
            self.dropped += _count_chars(self.tail[:excess])
            del self.tail[:excess]

    def text(self, limit: int) -> str:
        self._trim()
        if not self.dropped:
            return output.clip(output.render(bytes(self.head + self.tail)), limit)
        head = output.render(bytes(self.head), clipped_end=True)
        tail = output.render(bytes(self.tail), clipped_start=True)
        return output.clip(head, limit, tail=tail, dropped=self.dropped)


_UTF8_CONTINUATION = bytes(range(0x80, 0xC0))


def _count_chars(data: bytes | bytearray) -> int:
    """Characters in UTF-8 bytes: every byte that does not continue a character starts one."""
    return len(data.translate(None, delete=_UTF8_CONTINUATION))


class _Stream:
    """One of bash's output pipes during a call: output up to this call's marker line.

    Marker lines of other calls (a late prompt after an interrupt) are dropped; whatever comes
    after this call's marker is kept in `leftover` for the next call.
    """

    def __init__(self, prefix: bytes, nonce: str, keep: int, leftover: bytes) -> None:
        self.prefix = prefix
        self.nonce = nonce.encode()
        self.capture = _Capture(keep)
        self.pending = bytearray()
        self.done = False
        self.status = b""
        self.leftover = b""
        self.feed(leftover)

    def feed(self, data: bytes) -> None:
        self.pending += data
        while not self.done:
            start = self.pending.find(self.prefix)
            if start < 0:  # keep a tail that could be the start of a marker
                self._emit(len(self.pending) - len(self.prefix) + 1)
                return
            self._emit(start)
            end = self.pending.find(b"\n")
            if end < 0:
                if len(self.pending) > _MAX_MARKER_LINE:
                    self._emit(len(self.prefix))  # not a marker after all
                    continue
                return
            nonce, _, status = bytes(self.pending[len(self.prefix) : end]).partition(b" ")
            del self.pending[: end + 1]
            if nonce == self.nonce:
                self.done, self.status, self.leftover = True, status, bytes(self.pending)

    def _emit(self, count: int) -> None:
        if count > 0:
            self.capture.add(self.pending[:count])
            del self.pending[:count]

    def flush(self) -> None:
        self.capture.add(self.pending)
        self.pending.clear()

    def text(self, limit: int) -> str:
        return self.capture.text(limit).rstrip("\n")


async def _read_until_marker(reader: asyncio.StreamReader, stream: _Stream) -> None:
    while not stream.done:
        data = await reader.read(READ_CHUNK)
        if not data:
            return
        stream.feed(data)


# -- processes ------------------------------------------------------------------------------


def _memory_limit() -> int:
    ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return min(MAX_DATA_BYTES, ram // 2)


def _setup_shell_process(memory: int) -> None:
    """In the forked child (already in its new session), before exec: containment that bash
    and all its children inherit."""
    processes.die_with_parent()
    processes.become_subreaper()
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    _write_proc("/proc/self/oom_score_adj", OOM_SCORE_ADJ)
    try:
        _write_proc("/proc/self/autogroup", AUTOGROUP_NICE)
    except OSError:  # a kernel without autogroups: lower the shell's own priority instead
        os.nice(AUTOGROUP_NICE)


def _write_proc(path: str, value: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def _process_count() -> int:
    """Processes visible here: a cheap upper bound for the tree size (the sandbox's namespace
    shows only the desktop's own processes)."""
    return sum(1 for name in processes.proc_entries("/proc") if name.isdigit())


def _tree_size(root: int, limit: int) -> int:
    """How many processes are below `root`, counting no further than past `limit`."""
    count, stack = 0, [root]
    while stack and count <= limit:
        children = processes.children(stack.pop())
        count += len(children)
        stack.extend(children)
    return count


def _foreground_group(shell: int, before: set[int]) -> int | None:
    """The process group of the job the shell is waiting for, if any.

    With job control every job leads its own group inside the shell's session; the foreground
    job is the newest one started during this call (background jobs of the same call are older
    than the command the shell then waits for). Programs that made their own session (setsid)
    or that are not group leaders (orphans of a double fork, re-parented to the shell) are not
    jobs.
    """
    jobs = [
        proc
        for pid in processes.children(shell) - before
        if (proc := processes.read_stat(pid)) is not None
        and proc.pgid == proc.pid
        and proc.sid == shell
        and proc.state != "Z"
    ]
    newest = max(jobs, key=lambda proc: (proc.start, proc.pid), default=None)
    return newest.pgid if newest is not None else None


def _session_members(shell: int, alive: bool) -> list[processes.ProcessInfo]:
    """Live processes the shell started, without itself: its session and, while it lives (its
    PID cannot have been reused), its process tree, setsid'd programs included."""
    procs = processes.scan()
    tree = set(processes.tree(procs, shell)) if alive else set()
    return [
        proc
        for proc in procs
        if proc.pid != shell and proc.state != "Z" and (proc.pid in tree or proc.sid == shell)
    ]


def _kill_session(shell: int, alive: bool) -> None:
    """SIGKILL everything the shell started, whole process groups at a time (a fork bomb cannot
    outrun that), then the shell itself. The shell is stopped first, so that it can neither
    start more processes nor report the end of a command whose processes were killed."""
    if alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(shell, signal.SIGSTOP)
    deadline = time.monotonic() + KILL_SECONDS
    while time.monotonic() < deadline:
        members = _session_members(shell, alive)
        if not members:
            break
        for group in {proc.pgid for proc in members} - {shell}:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        processes.kill_all((proc.pid for proc in members), signal.SIGKILL)
        time.sleep(0.01)
    if alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(shell, signal.SIGKILL)
