"""The two local web pages the browser scenarios use (the sandbox has no network).

Both pages have the same layout: a row of two big blocks at the top of the page (a JavaScript
toggle button and a link to the other page), then cards, a table and enough text to scroll.
The blocks swap sides between the pages, so after clicking a link the pointer rests on the new
page's button, not on its link: Chromium's link-URL bubble, which fades in some time after a
hover, would otherwise be measured as part of a page load.
"""

from __future__ import annotations

from typing import Literal

BLOCK_HEIGHT_PX = 240
PAGE_NAMES = ("a", "b")
Side = Literal["left", "right"]

_STYLE = f"""
body {{ margin: 0; font: 15px/1.45 "DejaVu Sans", sans-serif; color: #222; background: #fafafa; }}
.blocks {{ display: flex; height: {BLOCK_HEIGHT_PX}px; }}
.blocks > * {{ flex: 1; display: flex; align-items: center; justify-content: center;
  font-size: 22px; border: 0; margin: 0; text-decoration: none; }}
#toggle {{ background: #dfe7f2; color: #123; cursor: pointer; }}
body.on #toggle {{ background: #2a7a4a; color: #fff; }}
#link {{ background: #f4e3c8; color: #5a2d00; }}
h1 {{ margin: 16px; font-size: 24px; }}
.cards {{ display: flex; gap: 12px; margin: 0 16px; }}
.card {{ flex: 1; height: 90px; border-radius: 8px; padding: 8px; color: #fff; }}
table {{ margin: 16px; border-collapse: collapse; }}
td, th {{ border: 1px solid #bbb; padding: 2px 8px; }}
p {{ margin: 8px 16px; }}
"""
_COLOURS = ("#c0392b", "#2980b9", "#27ae60", "#8e44ad", "#d35400", "#16a085")


def page_html(name: str) -> str:
    """Page `name` ("a" or "b"): its toggle and its link to the other page, then long content."""
    other = PAGE_NAMES[1 - PAGE_NAMES.index(name)]
    toggle = (
        '<button id="toggle" onclick="document.body.classList.toggle(\'on\');'
        "this.textContent = document.body.classList.contains('on') ? 'ON' : 'OFF'\">OFF</button>"
    )
    link = f'<a id="link" href="{other}.html">go to page {other.upper()}</a>'
    blocks = toggle + link if toggle_side(name) == "left" else link + toggle
    cards = "".join(
        f'<div class="card" style="background:{colour}">card {i}</div>'
        for i, colour in enumerate(_COLOURS)
    )
    rows = "".join(
        f"<tr><td>{i}</td><td>item {i * 7 % 31}</td><td>{i * 13.5:.1f}</td></tr>" for i in range(40)
    )
    text = "".join(
        f"<p>Paragraph {i} of page {name.upper()}: the quick brown fox jumps over the lazy "
        "dog, and the benchmark scrolls past it to see when the screen stops moving.</p>"
        for i in range(60)
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{page_title(name)}</title>"
        f"<style>{_STYLE}</style></head><body><div class='blocks'>{blocks}</div>"
        f"<h1>deskhand bench page {name.upper()}</h1><div class='cards'>{cards}</div>"
        f"<table><tr><th>#</th><th>name</th><th>value</th></tr>{rows}</table>{text}</body></html>"
    )


def page_title(name: str) -> str:
    return f"deskhand bench {name.upper()}"


def toggle_side(name: str) -> Side:
    """Where page `name` has its toggle button; its link is on the other side."""
    return "left" if name == PAGE_NAMES[0] else "right"


def link_side(name: str) -> Side:
    return "right" if toggle_side(name) == "left" else "left"
