"""OSWorld's evaluator on a deskhand desktop: getters pull state out of the desktop, metrics
compare it with the expected state, `func`/`result`/`expected`/`options`/`conj` combine them
exactly as OSWorld's `DesktopEnv.evaluate` does (and = any 0 -> 0 else mean; or = any 1 -> 1
else max; a result getter whose file is missing scores 0).

Getters implemented: vm_file, vm_command_line, vm_command_error, rule, cloud_file and
cache_file (from the cache folder / from files earlier steps saved), list_directory,
vm_screen_size, vlc_config, gimp_config_file, and the Chrome getters that read the profile's
files (Preferences, Bookmarks, Local State) from ~/.config/chromium. Metrics: see METRICS.
Everything else is named by `getter_reasons` / `metric_reasons` so `--list` can say why.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import shlex
import shutil
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from deskhand.sandbox.desktop import Desktop

from .config import (
    CHROME_HISTORY,
    GUEST_HOME,
    Environment,
    Run,
    adapt_shell,
    cloud_cache_name,
    guest_path,
    plan_command,
    run_actions,
    to_desktop_path,
    truthy,
)
from .loader import Evaluator
from .reasons import Reason

CHROME_PROFILE = ".config/chromium"  # Chrome's ~/.config/google-chrome on OSWorld's VM


@dataclass
class EvalContext:
    desktop: Desktop
    task_id: str
    env: Environment
    scratch: Path  # OSWorld's per-task cache_dir: fetched files and saved command output
    notes: list[str] = field(default_factory=list)


# ---- getters ---------------------------------------------------------------------------------


async def fetch(ctx: EvalContext, path: str, dest: str) -> str | None:
    """A file of the desktop as a host path (None if it is not there)."""
    inside = to_desktop_path(ctx.desktop, guest_path(path))
    home = str(ctx.desktop.guest_home)
    target = ctx.scratch / dest
    target.parent.mkdir(parents=True, exist_ok=True)
    if inside.startswith(home + "/"):
        source = ctx.desktop.home / inside[len(home) + 1 :]
        if not source.is_file() or source.is_symlink():
            return None
        shutil.copyfile(source, target)
        return str(target)
    staged = f".osworld-fetch-{uuid.uuid4().hex}"
    result = await ctx.desktop.computer.run(["cp", "-L", "--", inside, f"{home}/{staged}"])
    host = ctx.desktop.home / staged
    if result.returncode != 0 or not host.is_file():
        return None
    shutil.move(host, target)
    return str(target)


def _files(config: dict[str, Any]) -> tuple[list[str], list[str], set[int]]:
    if config.get("multi"):
        paths, dests = list(config["path"]), list(config["dest"])
    else:
        paths, dests = [config["path"]], [config.get("dest") or Path(config["path"]).name]
    return [str(p) for p in paths], [str(d) for d in dests], set(config.get("gives", [0]))


def _one_or_list(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


async def get_vm_file(ctx: EvalContext, config: dict[str, Any]) -> Any:
    paths, dests, gives = _files(config)
    out = []
    for index, (path, dest) in enumerate(zip(paths, dests, strict=False)):
        fetched = await fetch(ctx, path, dest)
        if index in gives:
            out.append(fetched)
    return _one_or_list(out)


async def get_cloud_file(ctx: EvalContext, config: dict[str, Any]) -> Any:
    paths, dests, gives = _files(config)
    out = []
    for index, dest in enumerate(dests[: len(paths)]):
        cached = ctx.env.cache_file(cloud_cache_name(ctx.task_id, dest))
        if cached is None:
            raise FileNotFoundError(f"cache file {cloud_cache_name(ctx.task_id, dest)}")
        if index in gives:
            out.append(str(cached))
    return _one_or_list(out)


async def get_cache_file(ctx: EvalContext, config: dict[str, Any]) -> Any:
    saved = ctx.scratch / str(config["path"])
    if saved.is_file():
        return str(saved)
    cached = ctx.env.cache_file(f"{ctx.task_id}/{config['path']}")
    if cached is None:
        raise FileNotFoundError(f"cache file {ctx.task_id}/{config['path']}")
    return str(cached)


async def _command(ctx: EvalContext, config: dict[str, Any]) -> tuple[str, str]:
    plan = plan_command(config["command"], truthy(config.get("shell")), ctx.env, False)
    runs = [a for a in plan.actions if isinstance(a, Run)]
    if not runs:
        raise RuntimeError(f"command not runnable here: {plan.reasons}")
    argv = [a.replace(GUEST_HOME, str(ctx.desktop.guest_home)) for a in runs[0].argv]
    result = await ctx.desktop.computer.run(argv, timeout=120)
    ctx.notes.append(f"{shlex.join(argv)[:100]} -> {result.stdout.strip()[:100]!r}")
    return result.stdout, result.stderr


async def get_vm_command_line(ctx: EvalContext, config: dict[str, Any]) -> str:
    return (await _command(ctx, config))[0]


async def get_vm_command_error(ctx: EvalContext, config: dict[str, Any]) -> str:
    return (await _command(ctx, config))[1]


async def get_rule(ctx: EvalContext, config: dict[str, Any]) -> Any:
    return config["rules"]


async def get_list_directory(ctx: EvalContext, config: dict[str, Any]) -> Any:
    inside = to_desktop_path(ctx.desktop, guest_path(str(config["path"])))
    home = str(ctx.desktop.guest_home)
    if not inside.startswith(home + "/"):
        raise FileNotFoundError(inside)
    root = ctx.desktop.home / inside[len(home) + 1 :]

    def tree(path: Path) -> dict[str, Any]:
        if path.is_dir() and not path.is_symlink():
            children = [tree(child) for child in sorted(path.iterdir())]
            return {"name": path.name, "type": "directory", "children": children}
        return {"name": path.name, "type": "file"}

    if not root.is_dir():
        raise FileNotFoundError(inside)
    return tree(root)


async def get_vm_screen_size(ctx: EvalContext, config: dict[str, Any]) -> Any:
    width, height = await ctx.desktop.computer.size()
    return {"width": width, "height": height}


async def get_vlc_config(ctx: EvalContext, config: dict[str, Any]) -> Any:
    return await fetch(ctx, "~/.config/vlc/vlcrc", str(config.get("dest", "vlcrc")))


async def get_gimp_config_file(ctx: EvalContext, config: dict[str, Any]) -> Any:
    name = str(config["file_name"])
    return await fetch(ctx, f"~/.config/GIMP/2.10/{name}", str(config.get("dest", name)))


async def _chrome_json(ctx: EvalContext, name: str) -> Any:
    path = ctx.desktop.home / CHROME_PROFILE / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _prefs_getter(read: Callable[[Any], Any], missing: Any) -> GetterFn:
    async def getter(ctx: EvalContext, config: dict[str, Any]) -> Any:
        data = await _chrome_json(ctx, "Default/Preferences")
        if not isinstance(data, dict):
            return missing
        try:
            return read(data)
        except (AttributeError, KeyError, TypeError):
            return missing

    return getter


def _flag(value: Any) -> str:
    return "true" if value else "false"


async def get_bookmarks(ctx: EvalContext, config: dict[str, Any]) -> Any:
    data = await _chrome_json(ctx, "Default/Bookmarks")
    return data.get("roots", {}) if isinstance(data, dict) else []


async def get_enabled_experiments(ctx: EvalContext, config: dict[str, Any]) -> Any:
    data = await _chrome_json(ctx, "Local State")
    if not isinstance(data, dict):
        return []
    return data.get("browser", {}).get("enabled_labs_experiments", [])


DEVTOOLS_PORT = 1337  # OSWorld starts Chrome with --remote-debugging-port=1337; so does deskhand
_ACTIVE_TAB = (
    "import json, sys, urllib.request\n"
    "direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))\n"
    "try:\n"
    "    targets = json.load(direct.open(sys.argv[1], timeout=5))\n"
    "except OSError:\n"
    "    sys.exit(3)\n"
    "pages = [t for t in targets if t.get('type') == 'page'\n"
    "         and not t.get('url', '').rstrip('/').endswith('.top-chrome')]\n"
    "print(json.dumps(pages[0] if pages else None))\n"
)


async def active_tab(ctx: EvalContext) -> dict[str, Any] | None:
    """The browser's most recently active tab, asked from inside the desktop over the DevTools
    HTTP endpoint on the sandbox's own loopback (Chromium lists targets newest activity first),
    directly: not through the egress proxy that the desktop's programs are pointed at. Pages of
    the browser's own UI (chrome://omnibox-popup.top-chrome/ and the like) are not tabs."""
    url = f"http://127.0.0.1:{DEVTOOLS_PORT}/json/list"
    result = await ctx.desktop.computer.run(["python3", "-c", _ACTIVE_TAB, url], timeout=15)
    if result.returncode != 0:
        return None
    try:
        tab = json.loads(result.stdout)
    except ValueError:
        return None
    return tab if isinstance(tab, dict) else None


async def get_active_url(ctx: EvalContext, config: dict[str, Any]) -> Any:
    """OSWorld reads the address bar through AT-SPI and prefixes `goto_prefix`; deskhand asks
    the browser for the active tab's URL, which is what the address bar shows."""
    tab = await active_tab(ctx)
    return None if tab is None else str(tab.get("url", "")) or None


async def get_history(ctx: EvalContext, config: dict[str, Any]) -> Any:
    """(url, title, last_visit_time) of every row of the browser's History database."""
    copy = await fetch(ctx, CHROME_HISTORY, str(config.get("dest", "history.sqlite")))
    if copy is None:
        return None
    try:
        with contextlib.closing(sqlite3.connect(copy)) as db:
            return db.execute("SELECT url, title, last_visit_time FROM urls").fetchall()
    except sqlite3.Error:
        return None


async def get_chrome_language(ctx: EvalContext, config: dict[str, Any]) -> Any:
    data = await _chrome_json(ctx, "Local State")
    return data.get("intl", {}).get("app_locale", "en-US") if isinstance(data, dict) else "en-US"


GetterFn = Callable[[EvalContext, dict[str, Any]], Awaitable[Any]]

GETTERS: dict[str, GetterFn] = {
    "vm_file": get_vm_file,
    "cloud_file": get_cloud_file,
    "cache_file": get_cache_file,
    "vm_command_line": get_vm_command_line,
    "vm_command_error": get_vm_command_error,
    "rule": get_rule,
    "list_directory": get_list_directory,
    "vm_screen_size": get_vm_screen_size,
    "vlc_config": get_vlc_config,
    "gimp_config_file": get_gimp_config_file,
    "bookmarks": get_bookmarks,
    "chrome_language": get_chrome_language,
    "enabled_experiments": get_enabled_experiments,
    "active_url_from_accessTree": get_active_url,
    "history": get_history,
    "enable_do_not_track": _prefs_getter(lambda d: _flag(d.get("enable_do_not_track")), "false"),
    "enable_enhanced_safety_browsing": _prefs_getter(
        lambda d: _flag(d.get("safebrowsing", {}).get("enhanced")), "false"
    ),
    "enable_safe_browsing": _prefs_getter(
        lambda d: _flag(
            d.get("safebrowsing", {}).get("enhanced") or d.get("safebrowsing", {}).get("enabled")
        ),
        "false",
    ),
    "profile_name": _prefs_getter(lambda d: d.get("profile", {}).get("name"), None),
    "chrome_font_size": _prefs_getter(
        lambda d: d.get("webkit", {}).get(
            "webprefs",
            {"default_fixed_font_size": 13, "default_font_size": 16, "minimum_font_size": 13},
        ),
        {"default_fixed_font_size": 13, "default_font_size": 16},
    ),
    "default_search_engine": _prefs_getter(
        lambda d: (
            d.get("default_search_provider_data", {})
            .get("template_url_data", {})
            .get("short_name", "Google")
        ),
        "Google",
    ),
    "data_delete_automacally": _prefs_getter(
        lambda d: _flag(d["profile"].get("default_content_setting_values") is not None), "false"
    ),
    "new_startup_page": _prefs_getter(
        lambda d: (
            "true"
            if "session" not in d
            else _flag(d.get("session", {}).get("restore_on_startup") == 5)
        ),
        "false",
    ),
}

# Getters deskhand does not implement, with the reason (others get a generic sentence).
_CDP = (
    "reads open tabs and page contents through Playwright over Chrome's DevTools protocol "
    "(not implemented; only the active tab's URL is)"
)
GETTER_REASONS: dict[str, Reason] = {
    **{
        name: Reason("unsupported_getter", f"{name}: {_CDP}")
        for name in (
            "active_tab_info",
            "active_tab_html_parse",
            "active_tab_url_parse",
            "open_tabs_info",
            "url_dashPart",
            "find_unpacked_extension_path",
            "find_installed_extension_name",
        )
    },
    **{
        name: Reason("needs_network", f"{name} fetches a live web page")
        for name in ("page_info", "info_from_website", "pdf_from_url")
    },
    "gotoRecreationPage_and_get_html_content": Reason(
        "needs_network", "gotoRecreationPage_and_get_html_content browses a live website"
    ),
    "googledrive_file": Reason("needs_network", "googledrive_file reads a Google Drive account"),
    "rule_relativeTime": Reason(
        "needs_network", "rule_relativeTime looks up the time zone by IP geolocation"
    ),
    "vm_terminal_output": Reason(
        "environment",
        "vm_terminal_output reads GNOME Terminal's text through AT-SPI; this desktop runs xterm "
        "without an accessibility bus",
    ),
    "accessibility_tree": Reason(
        "environment",
        "accessibility_tree needs the AT-SPI accessibility bus, which this desktop does not run",
    ),
    "vm_wallpaper": Reason("environment", "vm_wallpaper reads GNOME's wallpaper setting"),
    "default_video_player": Reason(
        "unsupported_getter", "default_video_player (xdg-mime over 60 video types) not implemented"
    ),
}


def getter_reasons(config: dict[str, Any], task_id: str, env: Environment) -> list[Reason]:
    """Why this getter cannot run here; empty when it can."""
    kind = str(config.get("type", ""))
    if kind not in GETTERS:
        return [
            GETTER_REASONS.get(
                kind, Reason("unsupported_getter", f"getter {kind!r} is not implemented")
            )
        ]
    if kind in ("vm_command_line", "vm_command_error"):
        plan = plan_command(config.get("command"), truthy(config.get("shell")), env, False)
        reasons = list(plan.reasons)
        # `which X` checks that the agent installed X: installing needs the network here.
        script = config.get("command")
        text = script if isinstance(script, str) else shlex.join(map(str, script or []))
        for program in re.findall(r"\bwhich\s+([\w.+-]+)", adapt_shell(text, env.screen)):
            if not env.has_program(program):
                reasons.append(
                    Reason("needs_network", f"the checker wants {program} installed (from the web)")
                )
        return reasons
    if kind == "cloud_file":
        _, dests, _ = _files(config)
        return [
            Reason("needs_cache", f"needs cache file {cloud_cache_name(task_id, d)}")
            for d in dests
            if env.cache_file(cloud_cache_name(task_id, d)) is None
        ]
    return []


# ---- metrics ---------------------------------------------------------------------------------


def _read(path: Any) -> str:
    return Path(str(path)).read_text(encoding="utf-8", errors="replace")


def exact_match(result: Any, rules: Any) -> float:
    return float(result == rules["expected"])


def match_in_list(result: Any, rules: Any) -> float:
    return float(result in rules["expected"])


def is_in_list(result: Any, rules: Any) -> float:
    return float(rules["expected"] in result)


def check_include_exclude(result: Any, rules: Any) -> float:
    if result is None:
        return 0.0
    include, exclude = rules.get("include", []), rules.get("exclude", [])
    return float(all(r in result for r in include) and all(r not in result for r in exclude))


def literal_match(result: Any, expected: Any, **options: Any) -> float:
    ignore_case = bool(options.get("ignore_case", False))

    def norm(value: Any) -> str:
        return str(value).lower() if ignore_case else str(value)

    if options.get("type", "str") == "list":
        if not isinstance(result, list | tuple) or not isinstance(expected, list | tuple):
            return 0.0
        return float([norm(v) for v in result] == [norm(v) for v in expected])
    return float(norm(result) == norm(expected))


def diff_text_file(result: Any, expected: Any) -> float:
    if result is None:
        return 0.0
    a, b = _read(result).splitlines(), _read(expected).splitlines()
    return difflib.SequenceMatcher(a=a, b=b).ratio()


def compare_text_file(result: Any, expected: Any, **options: Any) -> float:
    if not result:
        return 0.0
    actual, gold = _read(result), _read(expected)
    if options.get("ignore_blanks"):
        actual = re.sub(r"\s+", " ", re.sub(r"[\t\n]", " ", actual).strip())
        gold = re.sub(r"\s+", " ", re.sub(r"[\t\n]", " ", gold).strip())
    if options.get("ignore_case"):
        actual, gold = actual.lower(), gold.lower()
    return float(actual == gold)


def check_list(result: Any, rules: Any) -> float:
    if result is None:
        return 0.0
    expect = [re.compile(p) for p in rules.get("expect", [])]
    unexpect = [re.compile(p) for p in rules.get("unexpect", [])]
    lines = _read(result).splitlines(keepends=True)
    found = all(any(p.search(line) for line in lines) for p in expect)
    clean = not any(p.search(line) for p in unexpect for line in lines)
    return float(found and clean)


def file_contains(result: Any, rules: Any) -> float:
    if not result:
        return 0.0
    try:
        text = _read(result)
    except OSError:
        return 0.0
    return float(all(t in text for t in rules["expected"]))


def check_line_number(result: Any, rules: Any) -> float:
    if result is None or not Path(str(result)).is_file():
        return 0.0
    pattern = re.compile(r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)")
    count = sum(1 for line in _read(result).splitlines() if pattern.search(line))
    return float(count == int(rules["expected"]))


def check_direct_json_object(result: Any, rules: Any) -> float:
    try:
        if isinstance(result, str):
            result = json.loads(result.strip().replace("'", '"'))
        if not isinstance(result, dict):
            return 0.0
        found: dict[str, Any] = result
        expected = rules["expected"]
        if any(v == "__EVALUATION_FAILED__" for v in expected.values()):
            return 0.0
        if not rules.get("expect_in_result", False):
            for key, value in expected.items():
                if expected.get("ignore_list_order", False):
                    if sorted(value) != sorted(found.get(key) or []):
                        return 0.0
                elif value != found.get(key):
                    return 0.0
            return 1.0
        for key, value in expected.items():
            actual: Any = found.get(key)
            if isinstance(value, list):
                if not any(
                    (isinstance(actual, list) and v in actual) or v == actual for v in value
                ):
                    return 0.0
            elif isinstance(value, str):
                if value not in actual:
                    return 0.0
            else:
                return 0.0
        return 1.0
    except (ValueError, TypeError, AttributeError):
        return 0.0


def check_gnome_favorite_apps(result: Any, rules: Any) -> float:
    try:
        found = json.loads(str(result).strip().replace("'", '"'))
    except ValueError:
        return 0.0
    expected = rules["expected"]
    return float(len(found) == len(expected) and set(found) == set(expected))


def is_utc_0(result: Any) -> float:
    lines = str(result).split("\n")
    return float(len(lines) > 3 and lines[3].endswith("+0000)"))


def check_text_enlarged(result: Any) -> float:
    try:
        return float(float(result) > 1.0)
    except (TypeError, ValueError):
        return 0.0


def check_moved_jpgs(result: Any, rules: Any) -> float:
    names = [node["name"] for node in result["children"]]
    expected = rules["expected"]
    return float(len(names) == len(expected) and set(names) == set(expected))


def is_expected_bookmarks(result: Any, rules: Any) -> float:
    if not result:
        return 0.0
    children = result.get("bookmark_bar", {}).get("children", [])
    kind = rules["type"]
    if kind == "bookmark_bar_folders_names":
        names = {b["name"] for b in children if b.get("type") == "folder"}
        return float(names == set(rules["names"]))
    if kind == "bookmark_bar_websites_urls":
        urls = {b["url"] for b in children if b.get("type") == "url"}
        return float(urls == set(rules["urls"]))
    if kind == "liked_authors_websites_urls":
        folder = next(
            (b for b in children if b.get("type") == "folder" and b["name"] == "Liked Authors"),
            None,
        )
        if folder is None:
            return 0.0
        urls = {b["url"] for b in folder.get("children", []) if b.get("type") == "url"}
        options = [[u] if isinstance(u, str) else list(u) for u in rules["urls"]]
        return float(any(set(combo) == urls for combo in product(*options)))
    raise TypeError(f"{kind} not supported")


def check_font_size(result: Any, rules: Any) -> float:
    size = result["default_font_size"]
    if rules["type"] == "value":
        return float(size == rules["value"])
    if rules["type"] == "range":
        return float(rules["min"] < size < rules["max"])
    raise TypeError(f"{rules['type']} not supported")


def check_enabled_experiments(result: Any, rules: Any) -> float:
    names = [str(experiment).split("@")[0] for experiment in result]
    if rules["type"] == "names":
        return float(names == rules["names"])
    raise TypeError(f"{rules['type']} not supported")


def compare_urls(url1: str | None, url2: str | None) -> bool:
    """OSWorld's URL comparison: scheme lower-cased, a lone `www` dropped, the public suffix
    ignored (OSWorld uses tldextract; here the last label of a dotted host, so multi-part
    suffixes such as com.sg keep their first part), trailing slash dropped, query and fragment
    kept."""
    if url1 is None or url2 is None:
        return url1 == url2

    def normalize(url: str) -> tuple[str, str, str, str, str]:
        if not re.match(r"^[a-zA-Z][a-zA-Z0-9+\-.]*://", url):
            url = f"http://{url}"
        parts = urlparse(url)
        labels = parts.netloc.lower().split(".")
        if len(labels) > 1:
            labels = labels[:-1]
        if len(labels) == 2 and labels[0] == "www":
            labels = labels[1:]
        path = parts.path if parts.path != "/" else ""
        return parts.scheme.lower(), ".".join(labels), path, parts.query, parts.fragment

    return normalize(url1) == normalize(url2)


def is_expected_active_tab(result: Any, rules: Any) -> float:
    if not result:
        return 0.0
    if rules["type"] != "url":
        return 0.0
    actual = result.get("url") if isinstance(result, dict) else result
    return float(compare_urls(rules["url"], actual))


def check_history_deleted(result: Any, rules: Any) -> float:
    if rules["type"] != "keywords":
        raise TypeError(f"{rules['type']} not supported")
    if result is None:
        return 0.0  # OSWorld would fail on a missing history too
    urls = [row[0] for row in result]
    return float(not any(k in url for k in rules["keywords"] for url in urls))


def check_config_status(result: Any, rules: Any) -> float:
    if result is None:
        return 0.0
    for line in _read(result).splitlines(keepends=True):
        if line.startswith("#") or line == "\n":
            continue
        items = line.strip().lstrip("(").rstrip(")\n").split()
        if not items:
            continue
        key = rules["key"]
        if isinstance(key, str) and items[0] == key and items[-1] == rules["value"]:
            return 1.0
        if (
            isinstance(key, list)
            and len(key) == 2
            and len(items) > 1
            and items[:2] == key
            and items[-1] == rules["value"]
        ):
            return 1.0
    return 0.0


MetricFn = Callable[..., float]

METRICS: dict[str, MetricFn] = {
    fn.__name__: fn
    for fn in (
        exact_match,
        match_in_list,
        is_in_list,
        check_include_exclude,
        literal_match,
        diff_text_file,
        compare_text_file,
        check_list,
        file_contains,
        check_line_number,
        check_direct_json_object,
        check_gnome_favorite_apps,
        is_utc_0,
        check_text_enlarged,
        check_moved_jpgs,
        is_expected_bookmarks,
        check_font_size,
        check_enabled_experiments,
        is_expected_active_tab,
        check_history_deleted,
        check_config_status,
    )
}


def metric_reasons(evaluator: Evaluator) -> list[Reason]:
    return [
        Reason("unsupported_metric", f"metric {name!r} is not implemented")
        for name in evaluator.funcs
        if name not in METRICS and name != "infeasible"
    ]


# ---- evaluate --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalResult:
    score: float  # OSWorld's score in [0, 1]
    detail: str

    @property
    def passed(self) -> bool:
        return self.score >= 1.0


async def evaluate(
    ctx: EvalContext, evaluator: Evaluator, declared_infeasible: bool = False
) -> EvalResult:
    """Score the desktop's final state the way OSWorld's DesktopEnv.evaluate does.

    `declared_infeasible`: the agent's last word was that the task cannot be done (OSWorld's
    FAIL action); infeasible tasks pass only then, every other task fails then.
    """
    from .config import plan_steps  # local: planning postconfig needs the task id

    post = plan_steps(evaluator.postconfig, ctx.task_id, ctx.env)
    if post.reasons:
        return EvalResult(0.0, "postconfig cannot run here: " + "; ".join(map(str, post.reasons)))
    await run_actions(ctx.desktop, post.actions, ctx.scratch)
    if evaluator.infeasible:
        return EvalResult(
            float(declared_infeasible), f"infeasible; agent said so: {declared_infeasible}"
        )
    if declared_infeasible:
        return EvalResult(0.0, "the agent declared the task infeasible; it is not")
    scores: list[float] = []
    parts: list[str] = []
    conj = evaluator.conj if evaluator.is_multi else "and"
    for index, name in enumerate(evaluator.funcs):
        metric = METRICS[name]
        result_config = evaluator.result_of(index)
        try:
            result = (
                await GETTERS[result_config["type"]](ctx, result_config) if result_config else None
            )
        except FileNotFoundError as exc:
            parts.append(f"{name}: result missing ({exc})")
            if conj == "and":
                return EvalResult(0.0, "; ".join(parts))
            scores.append(0.0)
            continue
        expected_config = evaluator.expected_of(index)
        options = evaluator.options_of(index)
        try:
            if expected_config is not None:
                expected = await GETTERS[expected_config["type"]](ctx, expected_config)
                score = float(metric(result, expected, **options))
            else:
                score = float(metric(result, **options))
        except (KeyError, TypeError, ValueError, OSError) as exc:
            score = 0.0
            parts.append(f"{name}: error {type(exc).__name__}: {exc}")
        parts.append(f"{name}={score:g} (result {str(result)[:80]!r})")
        if conj == "and" and score == 0.0:
            return EvalResult(0.0, "; ".join(parts))
        if conj == "or" and score == 1.0:
            return EvalResult(1.0, "; ".join(parts))
        scores.append(score)
    if not scores:
        return EvalResult(0.0, "no metric ran")
    final = sum(scores) / len(scores) if conj == "and" else max(scores)
    return EvalResult(final, "; ".join(parts))
