"""Full-screen capture inside the guest: one BGRA frame in about a millisecond.

mss copies the root window out of an MIT-SHM segment (XShmGetImage), which the research measured
at ~0.8 ms for 1280x800; every screenshot subprocess was 35-110x slower. The X server never puts
the pointer into captured pixels, so the cursor is fetched through XFixes and blended in here:
the model has to see where the pointer is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mss
import numpy as np
import numpy.typing as npt
from Xlib import display as xdisplay

from deskhand.guest.closing import Closing

Pixels = npt.NDArray[np.uint8]

_OPAQUE = np.uint32(0xFF000000)


class CaptureError(RuntimeError):
    """The X server cannot provide what capture needs."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One screen frame: `data` is a (height, width, 4) uint8 array in B, G, R, A order, A = 255."""

    width: int
    height: int
    data: Pixels


@dataclass(frozen=True, slots=True)
class _Cursor:
    """The pointer image, top-left corner at (left, top) in screen pixels, premultiplied BGRA."""

    left: int
    top: int
    pixels: Pixels


class ScreenCapture(Closing):
    """Grabs the whole screen of one X display (e.g. ":99")."""

    def __init__(self, display: str) -> None:
        self._sct: Any = mss.MSS(display=display, with_cursor=False)
        self._xdisplay = xdisplay.Display(display)
        try:
            self._monitor: dict[str, int] = dict(self._sct.monitors[0])
            self._require_xfixes()
            # The first XShmGetImage attaches the segment and settles which backend mss uses
            # (~12 ms); pay that here rather than on the first step.
            self._sct.grab(self._monitor)
        except BaseException:
            self.close()
            raise

    @property
    def backend(self) -> str:
        """Which X request mss captures with: "xshmgetimage" (MIT-SHM) or "xgetimage"."""
        # mss 10.2 exposes the outcome of its MIT-SHM probe only on the backend object
        # (shm_status); its public performance_status holds free-form notes.
        status = getattr(getattr(self._sct, "_impl", None), "shm_status", None)
        if getattr(status, "name", None) == "AVAILABLE":
            return "xshmgetimage"
        return "xgetimage"

    @property
    def notes(self) -> list[str]:
        """mss's own notes on its backend choice (e.g. why MIT-SHM was not usable)."""
        return list(self._sct.performance_status)

    def size(self) -> tuple[int, int]:
        """Screen size in pixels as (width, height)."""
        return self._monitor["width"], self._monitor["height"]

    def grab(self, with_cursor: bool = True) -> Frame:
        """Capture the whole screen, with the pointer drawn in unless `with_cursor` is False."""
        shot = self._sct.grab(self._monitor)
        width, height = shot.size
        pixels = np.frombuffer(shot.raw, dtype=np.uint8).reshape(height, width, 4)
        # X leaves the fourth byte of a 24-bit visual at 0; make it real alpha so that no
        # consumer reading the array as BGRA turns the screenshot transparent.
        pixels.view(np.uint32)[...] |= _OPAQUE
        if with_cursor:
            _blend(pixels, self._cursor())
        return Frame(width=width, height=height, data=pixels)

    def close(self) -> None:
        self._sct.close()
        self._xdisplay.close()

    def _require_xfixes(self) -> None:
        if not self._xdisplay.has_extension("XFIXES"):
            raise CaptureError(
                "the X server has no XFIXES extension, so the pointer cannot be drawn"
            )
        # XFixes answers nothing until the client has announced the version it speaks.
        self._xdisplay.xfixes_query_version()

    def _cursor(self) -> _Cursor:
        reply = self._xdisplay.xfixes_get_cursor_image(self._xdisplay.screen().root)
        # Every client gets MappingNotify events, asked for or not, and python-xlib queues
        # them while it waits for replies: drop them so the queue does not grow all session.
        while self._xdisplay.pending_events():
            self._xdisplay.next_event()
        # ARGB words in host (little-endian) order are B, G, R, A bytes, like the frame.
        argb = np.array(reply.cursor_image, dtype=np.uint32)
        pixels = argb.view(np.uint8).reshape(reply.height, reply.width, 4)
        return _Cursor(left=reply.x - reply.xhot, top=reply.y - reply.yhot, pixels=pixels)


def _blend(frame: Pixels, cursor: _Cursor) -> None:
    """Draw `cursor` over `frame` in place ("over" with premultiplied alpha, as XFixes delivers)."""
    height, width = frame.shape[:2]
    top, left = max(cursor.top, 0), max(cursor.left, 0)
    bottom = min(cursor.top + cursor.pixels.shape[0], height)
    right = min(cursor.left + cursor.pixels.shape[1], width)
    if top >= bottom or left >= right:
        return
    src = cursor.pixels[
        top - cursor.top : bottom - cursor.top, left - cursor.left : right - cursor.left
    ]
    dst = frame[top:bottom, left:right, :3]
    alpha = src[..., 3:4].astype(np.uint16)
    under = (dst.astype(np.uint16) * (255 - alpha) + 127) // 255
    # Premultiplied colour never exceeds alpha, so the sum fits; the clip only guards against
    # a server that sends straight alpha.
    dst[...] = np.minimum(src[..., :3] + under, 255).astype(np.uint8)
