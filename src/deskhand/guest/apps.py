"""The apps a person expects on a small Linux desktop, as data: how to start each one.

Every command is an argv list (never a shell string). The desktop writes a .desktop launcher for
each app into the sandbox home, and the panel and the WM's menu point at those launchers.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

# Chromium keeps its own sandbox: its namespace sandbox nests inside deskhand's unprivileged
# user namespace (renderers get their own user, PID and network namespaces; tested), so a
# compromised renderer cannot reach the home folder even though both run inside the desktop.
# The rest keeps it off the network and quiet (no sync, component or safe-browsing updates, no
# crash uploads, no first-run UI).
CHROMIUM_FLAGS = (
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=MediaRouter,Translate,OptimizationHints,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
    "--metrics-recording-only",
    "--password-store=basic",
    "--use-mock-keychain",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-pings",
    "--disable-quic",
)


@dataclass(frozen=True)
class App:
    key: str
    title: str
    argv: tuple[str, ...]
    icon: str

    def desktop_entry(self) -> str:
        return (
            "[Desktop Entry]\nType=Application\n"
            f"Name={self.title}\nExec={shlex.join(self.argv)}\nIcon={self.icon}\nTerminal=false\n"
        )


APPS: dict[str, App] = {
    app.key: app
    for app in (
        App(
            "terminal",
            "Terminal",
            ("xterm", "-fa", "DejaVu Sans Mono", "-fs", "11", "-u8", "-bg", "white"),
            "utilities-terminal",
        ),
        App("editor", "Text Editor", ("mousepad",), "accessories-text-editor"),
        App("calculator", "Calculator", ("galculator",), "accessories-calculator"),
        App("files", "Files", ("pcmanfm",), "system-file-manager"),
        App("browser", "Web Browser", ("chromium", *CHROMIUM_FLAGS), "chromium"),
    )
}


def use_proxy(flags: tuple[str, ...]) -> None:
    """Add the egress proxy flags to the browser's command (the guest calls this once, before
    writing launchers, when the desktop has an egress allowlist)."""
    browser = APPS["browser"]
    if not set(flags) <= set(browser.argv):
        APPS["browser"] = App(browser.key, browser.title, (*browser.argv, *flags), browser.icon)


def app_argv(key: str, *extra: str) -> list[str]:
    """The argv that starts app `key` (extra arguments such as a file or URL go last)."""
    try:
        return [*APPS[key].argv, *extra]
    except KeyError:
        raise KeyError(f"unknown app {key!r}; known apps: {', '.join(APPS)}") from None


def write_launchers(home: Path) -> list[Path]:
    """Write one .desktop file per app under ~/.local/share/applications and return their paths."""
    folder = home / ".local/share/applications"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for app in APPS.values():
        path = folder / f"deskhand-{app.key}.desktop"
        path.write_text(app.desktop_entry())
        paths.append(path)
    return paths


def openbox_menu() -> str:
    """A right-click desktop menu listing the same apps as the panel."""
    items = "".join(
        f'<item label={quoteattr(app.title)}><action name="Execute"><command>'
        f"{escape(shlex.join(app.argv))}</command></action></item>"
        for app in APPS.values()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<openbox_menu xmlns="http://openbox.org/3.4/menu">'
        f'<menu id="root-menu" label="deskhand">{items}</menu></openbox_menu>\n'
    )
