"""Multi-clicks are paced like a hand (Chromium merges back-to-back presses into one click);
wheel clicks are not, so a scroll costs no waiting."""

from __future__ import annotations

from deskhand.guest.events import Button, Sleep
from deskhand.tools.computer import MULTI_CLICK_GAP_SECONDS, _press


def test_a_triple_click_is_spaced_and_a_scroll_is_not() -> None:
    triple = _press(1, 3)
    assert [type(e) for e in triple] == [
        Button,
        Button,
        Sleep,
        Button,
        Button,
        Sleep,
        Button,
        Button,
    ]
    assert all(e.seconds == MULTI_CLICK_GAP_SECONDS for e in triple if isinstance(e, Sleep))
    wheel = _press(5, 10)
    assert len(wheel) == 20 and all(isinstance(e, Button) and e.button == 5 for e in wheel)
