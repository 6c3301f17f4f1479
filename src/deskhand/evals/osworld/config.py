"""OSWorld's config steps (setup and evaluator postconfig) planned and run on a deskhand desktop.

Planning reads a step and either turns it into actions for this desktop or says exactly why it
cannot run here (a `Reason`); the same planner feeds `--list`, so the listing and a real run never
disagree. Adaptations from OSWorld's Ubuntu VM to deskhand's Debian desktop:

- apps: google-chrome -> chromium (deskhand's browser flags, profile ~/.config/chromium),
  gnome-terminal -> xterm, nautilus -> pcmanfm, gedit -> mousepad, gnome-calculator ->
  galculator; `socat tcp-listen:9222 ... tcp:localhost:1337` is skipped (it only forwards
  Chrome's DevTools port to OSWorld's host, and deskhand's getters read the profile files);
  any other program must be installed (LibreOffice, GIMP, VLC, Thunderbird and VS Code are not);
- `python -c "import pyautogui; ..."` steps are interpreted, not run: click, doubleClick,
  rightClick, moveTo, mouseDown/Up, scroll, hotkey, press, write/typewrite and time.sleep become
  deskhand input events (coordinates scaled from OSWorld's 1920x1080); GNOME's ctrl+alt+t starts
  the terminal app; any other Python in such a step is refused;
- `echo password | sudo -S CMD` and `sudo CMD` run CMD as the sandbox user (there is no sudo);
  `python` is python3; `{CLIENT_PASSWORD}` is "password", `{SCREEN_WIDTH}` etc. the screen's;
- `download` copies files from a local cache folder laid out as OSWorld's own cache:
  `CACHE/<task id>/<uuid5(NAMESPACE_URL, url)>_<basename of path>` (see `download_cache_name`).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import dataclasses
import datetime
import functools
import mmap
import posixpath
import re
import shlex
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskhand.guest import apps
from deskhand.guest.events import Button, InputEvent, Key, Move, Text
from deskhand.guest.events import Sleep as SleepEvent
from deskhand.sandbox.desktop import Desktop
from deskhand.tools.keys import UnknownKeyError, parse_keys

from .loader import Step
from .reasons import Reason

GUEST_HOME = "/home/user"
CLIENT_PASSWORD = "password"  # noqa: S105 (OSWorld VM's documented sudo password)
OSWORLD_SCREEN = (1920, 1080)
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"

# OSWorld program -> deskhand app key (an equivalent Debian app that deskhand starts).
EQUIVALENT_APPS = {
    "google-chrome": "browser",
    "google-chrome-stable": "browser",
    "chrome": "browser",
    "chromium": "browser",
    "chromium-browser": "browser",
    "gnome-terminal": "terminal",
    "nautilus": "files",
    "gedit": "editor",
    "gnome-text-editor": "editor",
    "gnome-calculator": "calculator",
}
# Names people know for the programs OSWorld's tasks need (for the reasons' wording).
APP_NAMES = {
    "libreoffice": "LibreOffice",
    "soffice": "LibreOffice",
    "gimp": "GIMP",
    "vlc": "VLC",
    "thunderbird": "Thunderbird",
    "code": "VS Code",
    "eog": "Eye of GNOME (image viewer)",
    "pulseaudio": "PulseAudio",
    "pactl": "PulseAudio",
    "socat": "socat",
    "wmctrl": "wmctrl",
    "xsel": "xsel",
    "jq": "jq",
}
# What Ubuntu's xdg-open would pick for a file type, as (program, deskhand app key or None).
OPEN_WITH: dict[str, str] = {
    **dict.fromkeys(
        (".xlsx", ".xls", ".ods", ".csv", ".docx", ".doc", ".odt", ".pptx", ".ppt", ".odp"),
        "libreoffice",
    ),
    **dict.fromkeys((".mp4", ".mp3", ".wav", ".avi", ".mkv", ".webm", ".ogg"), "vlc"),
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"), "eog"),
    ".xcf": "gimp",
    **dict.fromkeys((".txt", ".py", ".json", ".md", ".sh", ".log", ".yaml", ".xml"), "mousepad"),
    **dict.fromkeys((".html", ".htm", ".pdf"), "chromium"),
    "": "pcmanfm",
}
# Window names OSWorld activates -> how to find deskhand's equivalent window (xdotool search).
WINDOW_ALIASES = {
    "Terminal": ("--class", "xterm"),
    "Google Chrome": ("--class", "chromium"),
    "Chrome": ("--class", "chromium"),
}
SHELL_BUILTINS = frozenset(
    {
        *("export", "cd", "echo", "printf", "[", "[[", "test", "true", "false", "set", "."),
        *("source", "exit", "unset", "read", "local", "eval", "exec", "if", "then", "else"),
        *("fi", "for", "do", "done", "while", "case", "esac", "history", "alias", "type", "wait"),
    }
)
NEEDS_ROOT = frozenset({"useradd", "adduser", "usermod", "passwd", "su", "chpasswd", "visudo"})
INSTALLERS = frozenset({"apt", "apt-get", "snap", "conda", "pip", "pip3", "dpkg", "flatpak"})
DOWNLOADERS = frozenset({"wget", "curl"})
SYSTEMD = frozenset({"timedatectl", "systemctl", "hostnamectl", "loginctl", "localectl"})
PYAUTOGUI_CALLS = frozenset(
    {
        "click",
        "doubleClick",
        "rightClick",
        "moveTo",
        "mouseDown",
        "mouseUp",
        "scroll",
        "hotkey",
        "press",
        "write",
        "typewrite",
    }
)
PYAUTOGUI_KEYS = {
    "enter": "Return",
    "return": "Return",
    "esc": "Escape",
    "escape": "Escape",
    "ctrl": "ctrl",
    "alt": "alt",
    "shift": "shift",
    "win": "super",
    "tab": "Tab",
    "backspace": "BackSpace",
    "delete": "Delete",
    "del": "Delete",
    "space": "space",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "home": "Home",
    "end": "End",
    "pageup": "Prior",
    "pagedown": "Next",
}


def truthy(value: Any) -> bool:
    """OSWorld writes booleans as JSON booleans and sometimes as strings ("true")."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no")
    return bool(value)


def installed(program: str) -> bool:
    """Whether `program` is on the sandbox's PATH (the sandbox sees the host's /usr read-only)."""
    return shutil.which(program, path=SANDBOX_PATH) is not None


CHROMIUM_BINARY = Path("/usr/lib/chromium/chromium")


@functools.cache
def chromium_has_flag(name: str) -> bool:
    """Whether this Chromium knows chrome://flags entry `name` (searched in its binary)."""
    try:
        with (
            CHROMIUM_BINARY.open("rb") as binary,
            mmap.mmap(binary.fileno(), 0, access=mmap.ACCESS_READ) as data,
        ):
            return data.find(name.encode()) >= 0
    except (OSError, ValueError):
        return False


@functools.cache
def gsettings_default(schema: str, key: str | None = None) -> str | None:
    """The installed default of GSettings `schema` `key` as `gsettings get` prints it (with its
    newline), or, without a key, "" if the schema is installed; None when it is not."""
    argv = ["gsettings", "get", schema, key] if key else ["gsettings", "list-keys", schema]
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=10,
            env={"PATH": SANDBOX_PATH, "GSETTINGS_BACKEND": "memory"},  # defaults, not a user's
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout if key else ""


def app_name(program: str) -> str:
    base = posixpath.basename(program)
    return APP_NAMES.get(base.lower(), base)


def download_cache_name(task_id: str, url: str, path: str) -> str:
    """Where OSWorld's own cache keeps a `download` file, relative to the cache folder."""
    return f"{task_id}/{uuid.uuid5(uuid.NAMESPACE_URL, url)}_{posixpath.basename(path)}"


def cloud_cache_name(task_id: str, dest: str) -> str:
    """Where OSWorld's cache keeps a `cloud_file` (an evaluator's gold file)."""
    return f"{task_id}/{dest}"


def guest_path(path: str) -> str:
    """An OSWorld VM path as the desktop sees it (relative paths are under the home)."""
    path = path.replace("~/", GUEST_HOME + "/", 1) if path.startswith("~/") else path
    return path if path.startswith("/") else posixpath.join(GUEST_HOME, path)


@dataclass(frozen=True)
class Environment:
    """What the planner may use: the user's cache folder and the programs installed here."""

    cache: Path | None = None
    has_program: Callable[[str], bool] = installed
    has_chrome_flag: Callable[[str], bool] = chromium_has_flag
    settings_default: Callable[[str, str | None], str | None] = gsettings_default
    screen: tuple[int, int] = OSWORLD_SCREEN

    def cache_file(self, name: str) -> Path | None:
        if self.cache is None:
            return None
        path = self.cache / name
        return path if path.is_file() else None


# ---- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """Run argv inside the desktop; wait for it unless `background`."""

    argv: tuple[str, ...]
    background: bool = False
    timeout: float = 120.0
    save_stdout: str | None = None  # OSWorld's `stdout`: keep the output for a cache_file getter


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Place:
    """Copy a cached file to a path inside the desktop."""

    source: Path
    dest: str


@dataclass(frozen=True)
class BrowseHistory:
    """OSWorld's update_browse_history: fake visits written into a copy of an empty Chrome
    History database from the cache, which becomes the profile's History."""

    source: Path
    entries: tuple[tuple[str, str, float], ...]  # (url, title, seconds before now)


@dataclass(frozen=True)
class Input:
    """Input events (from a pyautogui step)."""

    events: tuple[InputEvent, ...]


@dataclass(frozen=True)
class Window:
    """Activate or close a window found by name or class."""

    action: str  # "activate" | "close"
    search: tuple[str, ...]


@dataclass(frozen=True)
class Skip:
    why: str


Action = Run | Pause | Place | BrowseHistory | Input | Window | Skip
HISTORY_CACHE_NAME = "history_new.sqlite"  # OSWorld caches the empty History db per task
CHROME_HISTORY = "/home/user/.config/chromium/Default/History"


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)


# ---- commands --------------------------------------------------------------------------------


def substitute(text: str, screen: tuple[int, int]) -> str:
    width, height = screen
    for key, value in (
        ("{CLIENT_PASSWORD}", CLIENT_PASSWORD),
        ("{SCREEN_WIDTH_HALF}", str(width // 2)),
        ("{SCREEN_HEIGHT_HALF}", str(height // 2)),
        ("{SCREEN_WIDTH}", str(width)),
        ("{SCREEN_HEIGHT}", str(height)),
    ):
        text = text.replace(key, value)
    return text


_SUDO = re.compile(
    r"echo\s+(['\"]?)" + re.escape(CLIENT_PASSWORD) + r"\1\s*\|\s*sudo\s+-S\s+|\bsudo\s+(-\S+\s+)*"
)
_PYTHON = re.compile(r"(^|[;&|(\n]\s*)python(?=\s)")


def adapt_shell(script: str, screen: tuple[int, int]) -> str:
    """A shell command from a task, rewritten for this desktop (see the module docstring)."""
    script = _SUDO.sub("", substitute(script, screen))
    script = _PYTHON.sub(r"\1python3", script)
    script = script.replace(".config/google-chrome", ".config/chromium")
    script = re.sub(r"\bgoogle-chrome\b", "chromium", script)
    return re.sub(r"\bpkill(\s+-\w+)*\s+chrome\b", r"pkill\1 chromium", script)


def shell_programs(script: str) -> list[str] | None:
    """The programs a shell command starts (first word of each simple command); None when the
    text is not shell syntax shlex can split."""
    programs: list[str] = []
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        lexer.commenters = ""
        try:
            tokens = list(lexer)
        except ValueError:
            return None
        at_start = True
        for token in tokens:
            if token and set(token) <= set(";&|()"):
                at_start = True
                continue
            if at_start:
                if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", token, re.S):
                    continue  # VAR=value prefix
                at_start = False
                programs.append(token)
    return programs


def program_reasons(
    programs: Sequence[str], argv_tail: Sequence[str], env: Environment
) -> list[Reason]:
    """Why these programs cannot run here (empty when they can)."""
    reasons: list[Reason] = []
    for raw in programs:
        program = posixpath.basename(raw)
        if raw.startswith(("./", "$", "`", '"', "'")) or program in SHELL_BUILTINS:
            continue
        if not re.fullmatch(r"[A-Za-z0-9_][\w.+-]*", program):
            continue  # not a program name: a word inside $(...), a test operand, ...
        if program in INSTALLERS and "install" in argv_tail:
            reasons.append(Reason("needs_network", f"installs software ({program} install)"))
        elif program in DOWNLOADERS:
            reasons.append(Reason("needs_network", f"downloads with {program}"))
        elif program == "gsettings":
            reasons += [
                Reason("environment", f"the GSettings schema {schema} is not installed here")
                for schema in gsettings_schemas(argv_tail)
                if env.settings_default(schema, None) is None
            ]
        elif program == "dconf":
            reasons.append(
                Reason(
                    "environment",
                    "dconf is not used here: the desktop keeps GSettings in a keyfile "
                    "(~/.config/glib-2.0/settings/keyfile), without a D-Bus session bus",
                )
            )
        elif program in SYSTEMD:
            reasons.append(Reason("environment", f"{program} needs systemd; the sandbox has none"))
        elif program in NEEDS_ROOT:
            reasons.append(Reason("environment", f"{program} needs root; the sandbox has no sudo"))
        elif program in EQUIVALENT_APPS:
            continue
        elif program.startswith("python"):
            continue  # python -> python3, always present
        elif not env.has_program(program):
            detail = f"{app_name(program)} ({program}) is not installed here"
            reasons.append(Reason("missing_app", detail))
    return reasons


def gsettings_schemas(words: Sequence[str]) -> list[str]:
    """The schemas that `gsettings get|set|reset|... SCHEMA ...` calls among `words` name."""
    schemas = []
    for index, word in enumerate(words):
        if posixpath.basename(word) != "gsettings":
            continue
        rest = [w for w in words[index + 1 : index + 4] if not w.startswith("-")]
        if len(rest) >= 2 and re.fullmatch(r"[A-Za-z][\w.-]*", rest[1]):
            schemas.append(rest[1])
    return schemas


def _shell_words(script: str) -> list[str]:
    try:
        return shlex.split(script)
    except ValueError:
        return script.split()


def plan_command(command: Any, shell: bool, env: Environment, background: bool) -> Plan:
    """An `execute` / `command` / `launch` step or a `vm_command_line` getter's command."""
    plan = Plan()
    if isinstance(command, list) and command and command[0] in ("python", "python3"):
        code = command[2] if len(command) > 2 and command[1] == "-c" else ""
        if "pyautogui" in code:
            return plan_pyautogui(code, env)
    if isinstance(command, list):
        if shell and command:  # like subprocess with shell=True: the first item is the script
            return plan_command(str(command[0]), True, env, background)
        argv = [substitute(str(part), env.screen) for part in command]
        while argv and posixpath.basename(argv[0]) == "sudo":  # no sudo in the sandbox
            argv = argv[1:]
            while argv and argv[0].startswith("-"):
                argv = argv[1:]
        if len(argv) >= 3 and posixpath.basename(argv[0]) in ("bash", "sh") and argv[1] == "-c":
            return plan_command(argv[2], True, env, background)
        # OSWorld's server expands a leading ~/ in each argument
        argv = [GUEST_HOME + a[1:] if a.startswith("~/") else a for a in argv]
    elif isinstance(command, str) and (shell or background):
        if not shell and not re.search(r"[;&|<>$`\n]", command):
            return plan_command(_shell_words(command), False, env, background)
        script = adapt_shell(command, env.screen)
        programs = shell_programs(script)
        if programs is None:
            detail = f"shell text not understood: {command[:60]!r}"
            plan.reasons.append(Reason("unsupported_step", detail))
            return plan
        plan.reasons += program_reasons(programs, _shell_words(script), env)
        plan.actions.append(Run(("bash", "-c", script), background=background))
        return plan
    elif isinstance(command, str):
        return plan_command(_shell_words(command), False, env, background)
    else:
        detail = f"a command that is {type(command).__name__}"
        plan.reasons.append(Reason("unsupported_step", detail))
        return plan
    if not argv:
        plan.reasons.append(Reason("unsupported_step", "an empty command"))
        return plan
    # argv form: app equivalents, socat forwarding.
    if posixpath.basename(argv[0]) == "socat" and any("9222" in a for a in argv[1:]):
        plan.actions.append(Skip("socat forwards Chrome's DevTools port to OSWorld's host"))
        return plan
    program = posixpath.basename(argv[0])
    if program in EQUIVALENT_APPS:
        key = EQUIVALENT_APPS[program]
        extra = argv[1:] if key in ("browser", "files", "editor") else []
        plan.actions.append(Run(tuple(apps.app_argv(key, *extra)), background=True))
        return plan
    if program in ("python", "python3"):
        argv = ["python3", *argv[1:]]
    if program == "pkill" and argv[-1] == "chrome":
        argv = [*argv[:-1], "chromium"]
    plan.reasons += program_reasons([argv[0]], argv, env)
    if program == "pkill":
        plan.actions.append(Run(("sh", "-c", _pkill_and_wait(argv))))
        return plan
    plan.actions.append(Run(tuple(argv), background=background))
    return plan


def _pkill_and_wait(argv: list[str]) -> str:
    """A script that runs `pkill ...` and waits (at most 10 s) until what it signalled is gone.

    OSWorld launches pkill in the background and goes on to the next step, which often starts
    the same app again: on a loaded machine pkill then ended the new app (which wrote its
    settings on the way out) instead of the old one. Running it to completion, and waiting for
    the app to have written its files and exited, makes the steps happen in their order.
    """
    wait = f"for _ in $(seq 100); do {shlex.join(['pgrep', *argv[1:]])} >/dev/null || exit 0"
    return f"{shlex.join(argv)}; {wait}; sleep 0.1; done"


def _key_events(combo: str) -> list[InputEvent] | None:
    """Press and release a key combination ("ctrl+s"); None for an unknown key name."""
    try:
        keysyms = parse_keys(PYAUTOGUI_KEYS.get(combo.lower(), combo))
    except UnknownKeyError:
        return None
    return [
        *(Key(keysym=k, down=True) for k in keysyms),
        *(Key(keysym=k, down=False) for k in reversed(keysyms)),
    ]


def plan_pyautogui(code: str, env: Environment) -> Plan:
    """Interpret a `python -c "import pyautogui; ..."` step as input events."""
    plan = Plan()
    try:
        tree = ast.parse(code)
    except SyntaxError:
        plan.reasons.append(Reason("unsupported_step", "python step that is not valid Python"))
        return plan
    events: list[InputEvent] = []
    sx = env.screen[0] / OSWORLD_SCREEN[0]
    sy = env.screen[1] / OSWORLD_SCREEN[1]

    def flush() -> None:
        if events:
            plan.actions.append(Input(tuple(events)))
            events.clear()

    def refuse(node: ast.AST) -> None:
        plan.reasons.append(
            Reason("unsupported_step", f"python beyond pyautogui input: {ast.unparse(node)[:60]}")
        )

    for stmt in tree.body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            continue
        if isinstance(stmt, ast.Assign) and ast.unparse(stmt.targets[0]).startswith("pyautogui."):
            continue  # pyautogui.FAILSAFE = False and the like
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
            refuse(stmt)
            continue
        owner, name = ast.unparse(call.func.value), call.func.attr
        try:
            args = [ast.literal_eval(a) for a in call.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
        except ValueError:
            refuse(stmt)
            continue
        if owner == "time" and name == "sleep":
            events.append(SleepEvent(seconds=float(args[0])))
            continue
        if owner != "pyautogui" or name not in PYAUTOGUI_CALLS:
            refuse(stmt)
            continue
        if name in ("click", "doubleClick", "rightClick", "moveTo", "mouseDown", "mouseUp"):
            x = args[0] if args else kwargs.get("x")
            y = args[1] if len(args) > 1 else kwargs.get("y")
            if x is not None and y is not None:
                events.append(Move(x=round(float(x) * sx), y=round(float(y) * sy)))
            button = 3 if name == "rightClick" or kwargs.get("button") == "right" else 1
            presses = {"click": 1, "doubleClick": 2, "rightClick": 1}.get(name, 0)
            for _ in range(presses):
                events += [Button(button=button, down=True), Button(button=button, down=False)]
            if name == "mouseDown":
                events.append(Button(button=button, down=True))
            if name == "mouseUp":
                events.append(Button(button=button, down=False))
        elif name == "scroll":
            clicks = int(args[0])
            button = 4 if clicks > 0 else 5
            for _ in range(abs(clicks)):
                events += [Button(button=button, down=True), Button(button=button, down=False)]
        elif name in ("write", "typewrite"):
            text = args[0] if args else kwargs.get("message", "")
            events.append(Text(text=str(text)))
        else:  # hotkey, press
            flat = [k for a in args for k in (a if isinstance(a, list | tuple) else [a])]
            if name == "press" and len(flat) > 1:  # press([...]) presses each key in turn
                for key in flat:
                    events.extend(_key_events(str(key)) or [])
                continue
            names = [str(k) for k in flat]
            if [n.lower() for n in names] == ["ctrl", "alt", "t"]:
                flush()  # GNOME's shortcut for a terminal: start deskhand's terminal app
                plan.actions.append(Run(tuple(apps.app_argv("terminal")), background=True))
                plan.actions.append(Pause(1.0))
                continue
            combo = _key_events("+".join(PYAUTOGUI_KEYS.get(n.lower(), n) for n in names))
            if combo is None:
                refuse(stmt)
                continue
            events += combo
    flush()
    return plan


# ---- steps -----------------------------------------------------------------------------------


def ere_escape(text: str) -> str:
    """`text` as a literal POSIX extended regular expression (what xdotool search takes;
    Python's re.escape also escapes spaces and dashes, which ERE leaves undefined)."""
    return re.sub(r"([.\[\]{}()\\*+?|^$])", r"\\\1", text)


def plan_step(step: Step, task_id: str, env: Environment) -> Plan:
    p = step.parameters
    kind = step.type
    if kind == "sleep":
        return Plan([Pause(float(p.get("seconds", 0)))])
    if kind in ("execute", "command"):
        plan = plan_command(p.get("command"), truthy(p.get("shell")), env, background=False)
        if p.get("stdout"):
            plan.actions = [
                dataclasses.replace(a, save_stdout=str(p["stdout"])) if isinstance(a, Run) else a
                for a in plan.actions
            ]
        return plan
    if kind == "launch":
        return plan_command(p.get("command"), truthy(p.get("shell")), env, background=True)
    if kind == "download":
        plan = Plan()
        for entry in p.get("files", []):
            url, path = str(entry.get("url", "")), str(entry.get("path", ""))
            name = download_cache_name(task_id, url, path)
            found = env.cache_file(name)
            if found is None:
                plan.reasons.append(Reason("needs_cache", f"needs cache file {name}"))
            else:
                plan.actions.append(Place(found, guest_path(path)))
        return plan
    if kind == "open":
        path = guest_path(str(p.get("path", "")))
        program = OPEN_WITH.get(posixpath.splitext(path)[1].lower(), "xdg-open")
        if program in ("mousepad", "chromium", "pcmanfm"):
            key = {"mousepad": "editor", "chromium": "browser", "pcmanfm": "files"}[program]
            return Plan([Run(tuple(apps.app_argv(key, path)), background=True)])
        if not env.has_program(program):
            reason = (
                f"opening {posixpath.basename(path)} needs {app_name(program)} ({program}),"
                " not installed here"
            )
            return Plan(reasons=[Reason("missing_app", reason)])
        return Plan([Run((program, path), background=True)])
    if kind in ("activate_window", "close_window"):
        name = str(p.get("window_name", ""))
        if name in WINDOW_ALIASES:
            search = WINDOW_ALIASES[name]
        else:
            flag = "--class" if p.get("by_class") else "--name"
            pattern = ere_escape(name)
            search = (flag, f"^{pattern}$" if p.get("strict") else pattern)
        action = "activate" if kind == "activate_window" else "close"
        return Plan([Window(action, search)])
    if kind == "chrome_open_tabs":
        urls = [str(u) for u in p.get("urls_to_open", [])]
        remote = [u for u in urls if not u.startswith(("file:", "about:", "chrome:"))]
        if remote:
            return Plan(reasons=[Reason("needs_network", f"opens web pages ({remote[0][:60]})")])
        return Plan([Run(tuple(apps.app_argv("browser", *urls)), background=True)])
    if kind == "update_browse_history":
        name = f"{task_id}/{HISTORY_CACHE_NAME}"
        found = env.cache_file(name)
        if found is None:
            return Plan(reasons=[Reason("needs_cache", f"needs cache file {name}")])
        entries = tuple(
            (str(e["url"]), str(e["title"]), float(e["visit_time_from_now_in_seconds"]))
            for e in p.get("history", [])
        )
        return Plan([BrowseHistory(found, entries)])
    if kind == "googledrive":
        return Plan(reasons=[Reason("needs_network", "uses a Google Drive account")])
    if kind == "login":
        site = p.get("platform", "a website")
        return Plan(reasons=[Reason("needs_network", f"logs in to {site}")])
    if kind == "proxy":
        return Plan(reasons=[Reason("needs_network", "needs OSWorld's web proxy")])
    return Plan(reasons=[Reason("unsupported_step", f"config step {kind!r} is not implemented")])


def plan_steps(steps: Sequence[Step], task_id: str, env: Environment) -> Plan:
    plan = Plan()
    for step in steps:
        one = plan_step(step, task_id, env)
        plan.actions += one.actions
        plan.reasons += one.reasons
    return plan


# ---- running ---------------------------------------------------------------------------------


def write_history(action: BrowseHistory, target: Path) -> None:
    """Copy the empty History database and add the visits, with Chrome's timestamps
    (microseconds since 1601-01-01), the way OSWorld's setup does."""
    staged = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    shutil.copyfile(action.source, staged)
    now = datetime.datetime.now()
    epoch = datetime.datetime(1601, 1, 1)
    with contextlib.closing(sqlite3.connect(staged)) as db:
        for url, title, seconds_ago in action.entries:
            visit = now - datetime.timedelta(seconds=seconds_ago)
            stamp = int((visit - epoch).total_seconds() * 1_000_000)
            cursor = db.execute(
                "INSERT INTO urls (url, title, visit_count, typed_count, last_visit_time, hidden)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (url, title, 1, 0, stamp, 0),
            )
            db.execute(
                "INSERT INTO visits (url, visit_time, from_visit, transition, segment_id,"
                " visit_duration) VALUES (?, ?, ?, ?, ?, ?)",
                (cursor.lastrowid, stamp, 0, 805306368, 0, 0),
            )
        db.commit()
    staged.replace(target)


class SetupError(RuntimeError):
    """A config step failed on the desktop."""


def to_desktop_path(desktop: Desktop, path: str) -> str:
    """A /home/user path as the desktop's programs see it (the same path in the sandbox)."""
    home = str(desktop.guest_home)
    if path == GUEST_HOME or path.startswith(GUEST_HOME + "/"):
        return home + path[len(GUEST_HOME) :]
    return path


def _in_desktop(desktop: Desktop, argv: Sequence[str]) -> list[str]:
    if str(desktop.guest_home) == GUEST_HOME:
        return list(argv)
    return [a.replace(GUEST_HOME, str(desktop.guest_home)) for a in argv]


async def run_actions(
    desktop: Desktop, actions: Sequence[Action], scratch: Path | None = None
) -> list[str]:
    """Run planned actions in order; returns a log line per action. Raises SetupError when a
    file cannot be placed or a command cannot start. Like OSWorld, a command's exit status
    does not stop the setup (it is logged); output a step asked to keep goes to `scratch`."""
    log: list[str] = []
    for action in actions:
        if isinstance(action, Pause):
            await asyncio.sleep(action.seconds)
            log.append(f"sleep {action.seconds}")
        elif isinstance(action, Skip):
            log.append(f"skipped: {action.why}")
        elif isinstance(action, Run):
            argv = _in_desktop(desktop, action.argv)
            if action.background:
                await desktop.computer.launch(argv)
                await asyncio.sleep(0.5)
                log.append(f"launched {shlex.join(argv)[:120]}")
            else:
                result = await desktop.computer.run(argv, timeout=action.timeout)
                line = f"ran {shlex.join(argv)[:120]} -> {result.returncode}"
                if result.returncode != 0:
                    line += f" ({(result.stderr or result.stdout).strip()[:200]})"
                log.append(line)
                if action.save_stdout and scratch is not None:
                    (scratch / action.save_stdout).write_text(result.stdout)
        elif isinstance(action, Place):
            dest = to_desktop_path(desktop, action.dest)
            home = str(desktop.guest_home)
            if dest.startswith(home + "/"):
                target = desktop.home / dest[len(home) + 1 :]
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(action.source, target)
            else:  # outside the home: stage in the home, then move inside the desktop
                staged = desktop.home / f".osworld-staged-{uuid.uuid4().hex}"
                shutil.copyfile(action.source, staged)
                inside = f"{home}/{staged.name}"
                result = await desktop.computer.run(
                    ["bash", "-c", 'mkdir -p "$(dirname "$2")" && mv "$1" "$2"', "-", inside, dest]
                )
                if result.returncode != 0:
                    raise SetupError(f"could not place {dest}: {result.stderr.strip()[:200]}")
            log.append(f"placed {action.source.name} at {dest}")
        elif isinstance(action, BrowseHistory):
            target = desktop.home / CHROME_HISTORY[len(GUEST_HOME) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(write_history, action, target)
            log.append(f"wrote {len(action.entries)} visits into the browser's history")
        elif isinstance(action, Input):
            await desktop.computer.apply(list(action.events))
            log.append(f"input ({len(action.events)} events)")
        else:  # Window
            verb = ["windowactivate", "--sync"] if action.action == "activate" else ["windowkill"]
            argv = ["xdotool", "search", "--limit", "1", *action.search, *verb]
            result = await desktop.computer.run(argv, timeout=10)
            # OSWorld goes on when the window is not there; so does deskhand (logged).
            log.append(f"{action.action} window {' '.join(action.search)} -> {result.returncode}")
    return log
