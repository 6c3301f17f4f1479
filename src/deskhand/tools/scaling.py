"""The API's image-size rule and the mapping between screenshot ("model") and screen pixels.

The rule. Claude's vision encoder reads an image in 28x28-pixel patches ("visual tokens"); an
image costs ceil(w/28) * ceil(h/28) of them. If the long edge exceeds the model's maximum or
the patch count exceeds its budget, the API first shrinks the image, keeping the aspect ratio,
to the largest size within both limits (then pads it to a multiple of 28 on the bottom/right,
which moves no coordinate). The limits are 1568 px and 1568 patches for the standard models
(about 1.15 MP, ~1,600 tokens: the "long edge 1568 / ~1.15 megapixels / w*h/750 tokens" of the
vision docs) and 2576 px and 4784 patches (about 3.75 MP) for the high-resolution models.

Sources: platform.claude.com/docs/en/build-with-claude/vision ("Each patch is a 28x28 pixel
block ... an image costs ceil(width/28) x ceil(height/28) visual tokens"; "resized to the
largest possible size that preserves the aspect ratio"), .../vision-coordinates ("How Claude
resizes and pads images"), and `target_image_size` in anthropics/anthropic-quickstarts
computer-use-best-practices/computer_use/image.py, described there as a direct port of the
API's algorithm (px_per_token=28, max_edge_px=1568, max_tokens=1568, binary search on the
width with height = round(width / aspect)). The high-resolution figures come from Anthropic's
model migration notes (2576 px long edge, 4784 tokens per image at the cap).

If we send an image already within the limits the API leaves it alone, so the model's
coordinates are exactly the pixels of the screenshot we sent: the "model space" below.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from deskhand.tools.inputs import ToolInputError


@dataclass(frozen=True)
class ImageBudget:
    """The API's image limits for one family of models."""

    patch_px: int = 28
    max_edge_px: int = 1568
    max_patches: int = 1568

    def patches(self, width: int, height: int) -> int:
        """Visual tokens an image of this size costs."""
        return -(-width // self.patch_px) * -(-height // self.patch_px)

    def fits(self, width: int, height: int) -> bool:
        """True if the API would take an image of this size as it is."""
        return (
            max(width, height) <= self.max_edge_px
            and self.patches(width, height) <= self.max_patches
        )


STANDARD_BUDGET = ImageBudget()
HIGH_RES_BUDGET = ImageBudget(max_edge_px=2576, max_patches=4784)


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")


def max_image_size(
    width: int, height: int, budget: ImageBudget = STANDARD_BUDGET
) -> tuple[int, int]:
    """Largest size with this aspect ratio that the API takes as it is (may exceed the input).

    Binary search on the long edge, the short edge following it rounded half up: validity
    only grows with the long edge, so the search is exact.
    """
    _check_size(width, height)
    long_edge, short_edge = max(width, height), min(width, height)

    def size_for(edge: int) -> tuple[int, int]:
        other = max(1, (2 * edge * short_edge + long_edge) // (2 * long_edge))
        return (edge, other) if width >= height else (other, edge)

    lo, hi = 1, budget.max_edge_px + 1  # size_for(lo) always fits; hi is past the edge limit
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if budget.fits(*size_for(mid)):
            lo = mid
        else:
            hi = mid
    return size_for(lo)


def api_image_size(
    width: int, height: int, budget: ImageBudget = STANDARD_BUDGET
) -> tuple[int, int]:
    """The largest size the API will not downscale, never larger than the input."""
    _check_size(width, height)
    if budget.fits(width, height):
        return width, height
    return max_image_size(width, height, budget)


@dataclass(frozen=True)
class ScreenGeometry:
    """Maps between the physical screen and the screenshot size the model sees.

    A model pixel x covers the screen span [x*sw/mw, (x+1)*sw/mw); a model point is sent to the
    screen pixel under the centre of its span, floor((x + 0.5) * sw / mw), so the mapping is
    exact integer arithmetic, monotone, always on screen, and to_model inverts it.
    """

    screen_w: int
    screen_h: int
    budget: ImageBudget = STANDARD_BUDGET

    def __post_init__(self) -> None:
        _check_size(self.screen_w, self.screen_h)

    @cached_property
    def model_size(self) -> tuple[int, int]:
        """The size screenshots are sent at, and the coordinate space of the model."""
        return api_image_size(self.screen_w, self.screen_h, self.budget)

    def validate_model_point(self, x: int, y: int) -> None:
        """Reject a model coordinate outside the screenshot (checked in model space)."""
        mw, mh = self.model_size
        if not (0 <= x < mw and 0 <= y < mh):
            raise ToolInputError(
                f"Coordinate ({x}, {y}) is outside the screen; valid x is 0..{mw - 1} and y is"
                f" 0..{mh - 1} in screenshot pixels"
            )

    def to_screen(self, x: int, y: int) -> tuple[int, int]:
        """Model point -> physical pixel; raises ToolInputError if the point is off-screen."""
        self.validate_model_point(x, y)
        mw, mh = self.model_size
        return (
            (2 * x + 1) * self.screen_w // (2 * mw),
            (2 * y + 1) * self.screen_h // (2 * mh),
        )

    def to_model(self, x: int, y: int) -> tuple[int, int]:
        """Physical pixel -> the model pixel whose span contains it (for cursor_position)."""
        mw, mh = self.model_size
        x = min(max(x, 0), self.screen_w - 1)
        y = min(max(y, 0), self.screen_h - 1)
        return (
            (2 * x + 1) * mw // (2 * self.screen_w),
            (2 * y + 1) * mh // (2 * self.screen_h),
        )

    def region_to_screen(self, region: list[int]) -> tuple[int, int, int, int]:
        """Zoom region [x0, y0, x1, y1] (model pixels, x1/y1 exclusive) -> screen box.

        The box covers every screen pixel of the model pixels in the region, so nothing the
        model pointed at is cut off.
        """
        x0, y0, x1, y1 = region
        mw, mh = self.model_size
        if not (0 <= x0 < x1 <= mw and 0 <= y0 < y1 <= mh):
            raise ToolInputError(
                f"Region {list(region)} is not inside the screen; it must be [x0, y0, x1, y1]"
                f" with 0 <= x0 < x1 <= {mw} and 0 <= y0 < y1 <= {mh} in screenshot pixels"
            )
        sw, sh = self.screen_w, self.screen_h
        return (x0 * sw // mw, y0 * sh // mh, -(-x1 * sw // mw), -(-y1 * sh // mh))
