"""The image-size rule and the model <-> screen coordinate mapping."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deskhand.tools.inputs import ToolInputError
from deskhand.tools.scaling import (
    HIGH_RES_BUDGET,
    STANDARD_BUDGET,
    ImageBudget,
    ScreenGeometry,
    api_image_size,
    max_image_size,
)

SCREENS = [
    (640, 480),
    (800, 600),
    (1024, 768),
    (1280, 800),
    (1280, 1024),
    (1366, 768),
    (1440, 900),
    (1600, 900),
    (1920, 1080),
    (1920, 1200),
    (2560, 1080),
    (2560, 1440),
    (3440, 1440),
    (3840, 2160),
    (800, 1280),
    (1080, 1920),
    (1000, 1000),
    (1, 1),
    (5000, 3),
]


def test_patch_count() -> None:
    assert STANDARD_BUDGET.patches(28, 28) == 1
    assert STANDARD_BUDGET.patches(29, 28) == 2
    assert STANDARD_BUDGET.patches(1456, 819) == 52 * 30


@pytest.mark.parametrize(
    ("screen", "expected"),
    [
        ((1024, 768), (1024, 768)),
        ((1280, 800), (1280, 800)),
        ((1366, 768), (1366, 768)),
        ((800, 1280), (800, 1280)),
        ((1920, 1080), (1456, 819)),  # the docs' 16:9 maximum
        ((3840, 2160), (1456, 819)),
        ((1920, 1200), (1389, 868)),
        ((1280, 1024), (1225, 980)),
        ((2560, 1080), (1568, 662)),
        ((4000, 4000), (1092, 1092)),  # the docs' 1:1 maximum
        ((2000, 3000), (896, 1344)),  # the docs' 2:3 maximum
        ((1000, 2000), (784, 1568)),  # the docs' 1:2 maximum
        ((1568, 1014), (1372, 887)),  # long edge within 1568 but 2072 patches
    ],
)
def test_known_sizes(screen: tuple[int, int], expected: tuple[int, int]) -> None:
    assert api_image_size(*screen) == expected


def test_high_resolution_budget() -> None:
    assert api_image_size(1920, 1080, HIGH_RES_BUDGET) == (1920, 1080)
    assert api_image_size(3840, 2160, HIGH_RES_BUDGET) == (2576, 1449)
    assert HIGH_RES_BUDGET.fits(2576, 1449)


def test_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        api_image_size(0, 100)
    with pytest.raises(ValueError, match="positive"):
        ScreenGeometry(100, -1)


def half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def assert_largest_fitting(
    size: tuple[int, int], source: tuple[int, int], budget: ImageBudget
) -> None:
    """`size` fits, keeps the source's aspect within a pixel, and one more pixel would not fit."""
    width, height = size
    (long_src, short_src), landscape = sorted(source, reverse=True), source[0] >= source[1]
    long_edge, short_edge = (width, height) if landscape else (height, width)
    assert budget.fits(width, height)
    exact_short = Fraction(long_edge * short_src, long_src)
    assert abs(exact_short - short_edge) <= Fraction(1, 2) or short_edge == 1
    grown_long = long_edge + 1
    grown_short = max(1, half_up(Fraction(grown_long * short_src, long_src)))
    grown = (grown_long, grown_short) if landscape else (grown_short, grown_long)
    assert not budget.fits(*grown)


budgets = st.sampled_from([STANDARD_BUDGET, HIGH_RES_BUDGET])
sizes = st.tuples(st.integers(1, 10_000), st.integers(1, 10_000))


@given(sizes, budgets)
def test_api_image_size_never_upscales_and_is_maximal(
    size: tuple[int, int], budget: ImageBudget
) -> None:
    result = api_image_size(*size, budget)
    assert result[0] <= size[0] and result[1] <= size[1]
    if budget.fits(*size):
        assert result == size
    else:
        assert_largest_fitting(result, size, budget)


@given(sizes, budgets)
def test_max_image_size_fills_the_budget(size: tuple[int, int], budget: ImageBudget) -> None:
    assert_largest_fitting(max_image_size(*size, budget), size, budget)


def test_max_image_size_can_grow_a_small_crop() -> None:
    assert max_image_size(200, 100) == (1568, 784)
    assert STANDARD_BUDGET.patches(1568, 784) == 1568


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_model_size_respects_limits_and_aspect(screen: tuple[int, int]) -> None:
    geometry = ScreenGeometry(*screen)
    mw, mh = geometry.model_size
    assert STANDARD_BUDGET.fits(mw, mh)
    sw, sh = screen
    assert mw <= sw and mh <= sh
    # Aspect within one pixel, measured on the short side.
    if sw >= sh:
        assert abs(Fraction(mw * sh, sw) - mh) <= 1
    else:
        assert abs(Fraction(mh * sw, sh) - mw) <= 1


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_model_point_round_trips_through_the_screen(screen: tuple[int, int]) -> None:
    geometry = ScreenGeometry(*screen)
    mw, mh = geometry.model_size
    sw, sh = screen
    # The mapping is separable, so walking each axis covers every model point.
    xs = [geometry.to_screen(x, 0)[0] for x in range(mw)]
    ys = [geometry.to_screen(0, y)[1] for y in range(mh)]
    for axis, screen_len, model_len in ((xs, sw, mw), (ys, sh, mh)):
        assert all(0 <= p < screen_len for p in axis)
        assert all(a < b for a, b in itertools.pairwise(axis))  # strictly monotone
        for model_point, pixel in enumerate(axis):
            centre = Fraction(2 * model_point + 1, 2) * Fraction(screen_len, model_len)
            assert pixel == int(centre)  # the pixel under the centre of the model cell
    for x in range(mw):
        assert geometry.to_model(xs[x], 0)[0] == x
    for y in range(mh):
        assert geometry.to_model(0, ys[y])[1] == y


@pytest.mark.parametrize("screen", [(1920, 1080), (1280, 1024), (2560, 1080)])
def test_to_model_puts_every_screen_pixel_in_the_cell_that_contains_it(
    screen: tuple[int, int],
) -> None:
    geometry = ScreenGeometry(*screen)
    mw, _ = geometry.model_size
    sw, _ = screen
    for px in range(sw):
        mx = geometry.to_model(px, 0)[0]
        centre = Fraction(2 * px + 1, 2)
        assert Fraction(mx * sw, mw) <= centre < Fraction((mx + 1) * sw, mw)


def test_identity_when_no_scaling_is_needed() -> None:
    geometry = ScreenGeometry(1280, 800)
    assert geometry.model_size == (1280, 800)
    assert geometry.to_screen(0, 0) == (0, 0)
    assert geometry.to_screen(1279, 799) == (1279, 799)
    assert geometry.to_model(640, 400) == (640, 400)


def test_bounds_are_checked_in_model_space() -> None:
    geometry = ScreenGeometry(1920, 1080)  # model space 1456x819
    with pytest.raises(ToolInputError) as info:
        geometry.to_screen(1456, 10)  # inside the physical screen, outside the screenshot
    assert info.value.message == (
        "Coordinate (1456, 10) is outside the screen; valid x is 0..1455 and y is 0..818 in"
        " screenshot pixels"
    )
    with pytest.raises(ToolInputError):
        geometry.validate_model_point(10, 819)
    geometry.validate_model_point(1455, 818)
    assert geometry.to_screen(1455, 818) == (1919, 1079)


def test_to_model_clamps_to_the_screen() -> None:
    geometry = ScreenGeometry(1920, 1080)
    assert geometry.to_model(-5, 5000) == (0, 818)


def test_region_to_screen() -> None:
    geometry = ScreenGeometry(1920, 1080)
    assert geometry.region_to_screen([0, 0, 1456, 819]) == (0, 0, 1920, 1080)
    assert geometry.region_to_screen([0, 0, 728, 410]) == (0, 0, 960, 541)
    with pytest.raises(ToolInputError, match="0 <= x0 < x1 <= 1456"):
        geometry.region_to_screen([0, 0, 1457, 10])
    with pytest.raises(ToolInputError):
        geometry.region_to_screen([10, 10, 10, 20])


@given(st.data())
def test_region_box_covers_every_model_pixel_in_it(data: st.DataObject) -> None:
    screen = data.draw(st.sampled_from(SCREENS[:-2]))
    geometry = ScreenGeometry(*screen)
    mw, mh = geometry.model_size
    x0 = data.draw(st.integers(0, mw - 1))
    x1 = data.draw(st.integers(x0 + 1, mw))
    y0 = data.draw(st.integers(0, mh - 1))
    y1 = data.draw(st.integers(y0 + 1, mh))
    bx0, by0, bx1, by1 = geometry.region_to_screen([x0, y0, x1, y1])
    assert 0 <= bx0 < bx1 <= screen[0] and 0 <= by0 < by1 <= screen[1]
    for x, y in ((x0, y0), (x1 - 1, y1 - 1)):
        sx, sy = geometry.to_screen(x, y)
        assert bx0 <= sx < bx1 and by0 <= sy < by1
    # No more than one partial screen pixel of slack on each side.
    sw, sh = screen
    assert bx0 * mw <= x0 * sw < (bx0 + 1) * mw
    assert (bx1 - 1) * mw < x1 * sw <= bx1 * mw
    assert by0 * mh <= y0 * sh < (by0 + 1) * mh
    assert (by1 - 1) * mh < y1 * sh <= by1 * mh
