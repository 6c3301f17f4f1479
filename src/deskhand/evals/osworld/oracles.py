"""Scripted solutions for the OSWorld tasks that run here, as tool calls in the harness's
format (`{"tool": "bash", "input": {"command": ...}}`, what a model's bash tool would send).

Written for deskhand (not part of OSWorld). Each one is proven in tests/evals/test_osworld.py:
after setup a do-nothing agent fails the task's OSWorld evaluator and this oracle passes it.
The Chrome ones close the browser (it rewrites its profile when it exits) and then set the
preference the settings page would set.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

PREFERENCES = "~/.config/chromium/Default/Preferences"
BOOKMARKS = "~/.config/chromium/Default/Bookmarks"
LOCAL_STATE = "~/.config/chromium/Local\\ State"

_EDIT_JSON = (
    "import json, os, sys; p = os.path.expanduser(sys.argv[1]); "
    "d = json.load(open(p)) if os.path.exists(p) else {}; node = d; "
    "keys = sys.argv[2].split('.'); "
    "[node := node.setdefault(k, {}) for k in keys[:-1]]; "
    "node[keys[-1]] = json.loads(sys.argv[3]); "
    "os.makedirs(os.path.dirname(p), exist_ok=True); json.dump(d, open(p, 'w'))"
)


def close_browser_and_set(path: str, dotted: str, value: object) -> str:
    """A bash command: end Chromium, then set `dotted` (a.b.c) in one of its JSON files."""
    return (
        # an exited process may show as a zombie until the guest reaps it: wait for the rest
        "pkill -x chromium; while ps -C chromium -o stat= | grep -qv Z; do sleep 0.1; done; "
        f"python3 -c {shlex.quote(_EDIT_JSON)} {path} {shlex.quote(dotted)} "
        + shlex.quote(json.dumps(value))
    )


# A fixed statement (no input in it): the visits and URLs of YouTube pages go.
_DELETE_YOUTUBE = (
    "import os, sqlite3; "
    "db = sqlite3.connect(os.path.expanduser('~/.config/chromium/Default/History')); "
    "ids = [(r[0],) for r in db.execute('SELECT id FROM urls WHERE url LIKE ?', ('%youtube%',))]; "
    "db.executemany('DELETE FROM visits WHERE url = ?', ids); "
    "db.executemany('DELETE FROM urls WHERE id = ?', ids); db.commit()"
)


def _bash(command: str) -> list[dict[str, Any]]:
    return [{"tool": "bash", "input": {"command": command}}]


_FAVORITES_FOLDER = {
    "bookmark_bar": {
        "children": [{"type": "folder", "name": "Favorites", "children": [], "id": "5"}],
        "name": "Bookmarks bar",
        "type": "folder",
    }
}

ORACLES: dict[str, list[dict[str, Any]]] = {
    # GNOME settings: what the Settings panel would write (the desktop keeps GSettings in a
    # keyfile; there is no GNOME Settings app here, so an agent uses gsettings too).
    "os/f9be0997-4b7c-45c5-b05c-4612b44a6118": _bash(
        "gsettings set org.gnome.desktop.notifications show-banners false"
    ),
    "os/bedcedc4-4d72-425e-ad62-21960b11fe0d": _bash(
        "gsettings set org.gnome.desktop.session idle-delay 0"
    ),
    "os/3ce045a0-877b-42aa-8d2c-b4a863336ab8": _bash(
        "gsettings set org.gnome.desktop.interface text-scaling-factor 1.5"
    ),
    "os/e0df059f-28a6-4169-924f-b9623e7184cc": _bash(
        "mv ~/Desktop/todo_list_Jan_1 ~/Desktop/todo_list_Jan_2"
    ),
    "chrome/030eeff7-b492-4218-b312-701ec99ee0cc": _bash(
        close_browser_and_set(PREFERENCES, "enable_do_not_track", True)
    ),
    "chrome/bb5e4c0d-f964-439c-97b6-bdb9747de3f4": _bash(
        close_browser_and_set(
            PREFERENCES, "default_search_provider_data.template_url_data.short_name", "Bing"
        )
    ),
    "chrome/af630914-714e-4a24-a7bb-f9af687d3b91": _bash(
        close_browser_and_set(PREFERENCES, "webkit.webprefs.default_font_size", 24)
    ),
    "chrome/9656a811-9b5b-4ddf-99c7-5117bcef0626": _bash(
        close_browser_and_set(PREFERENCES, "safebrowsing.enhanced", True)
    ),
    "chrome/2ae9ba84-3a0d-4d4c-8338-3a1478dc5fe3": _bash(
        close_browser_and_set(PREFERENCES, "profile.name", "Thomas")
    ),
    # "Clear cookies and site data when you close all windows": cookies session-only (4).
    "chrome/99146c54-4f37-4ab8-9327-5f3291665e1e": _bash(
        close_browser_and_set(PREFERENCES, "profile.default_content_setting_values.cookies", 4)
    ),
    # chrome://flags: "Chrome Refresh 2023" and "Chrome WebUI Refresh 2023" set to Disabled.
    "chrome/480bcfea-d68f-4aaa-a0a9-2589ef319381": _bash(
        close_browser_and_set(
            LOCAL_STATE,
            "browser.enabled_labs_experiments",
            ["chrome-refresh-2023@2", "chrome-webui-refresh-2023@2"],
        )
    ),
    # Type the address into the browser's address bar, as a person would (once the window
    # takes input: retried until the browser shows the page).
    "chrome/12086550-11c0-466b-b367-1d9e75b3910e": _bash(
        "for try in 1 2 3 4 5; do "
        "w=$(xdotool search --sync --onlyvisible --class chromium | head -1); "
        "xdotool windowactivate --sync $w; sleep 0.5; xdotool key --clearmodifiers ctrl+l; "
        "sleep 0.3; xdotool type --delay 10 chrome://password-manager/passwords; "
        "xdotool key Return; sleep 1.5; "
        "xdotool getwindowname $(xdotool getactivewindow) | grep -q -i password && break; "
        "done"
    ),
    # Delete the YouTube visits from the history (the browser closed: it holds the database).
    "chrome/44ee5668-ecd5-4366-a6ce-c1c9b8d4e938": _bash(
        "pkill -x chromium; while ps -C chromium -o stat= | grep -qv Z; do sleep 0.1; done; "
        f"python3 -c {shlex.quote(_DELETE_YOUTUBE)}"
    ),
    "chrome/2ad9387a-65d8-4e33-ad5b-7580065a27ca": _bash(
        close_browser_and_set(BOOKMARKS, "roots", _FAVORITES_FOLDER)
    ),
}
