"""The image pipeline: scaling, cropping, zoom and encoding of BGRA frames."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from deskhand.tools.imaging import (
    EncodedImage,
    Frame,
    ImageFormat,
    crop,
    encode,
    scale,
    to_base64,
    zoom_image,
)
from deskhand.tools.scaling import STANDARD_BUDGET, max_image_size

FORMATS: list[ImageFormat] = ["png", "jpeg", "webp"]


def bgra(width: int, height: int, colour: tuple[int, int, int]) -> Frame:
    """A solid frame; `colour` is given as RGB and stored as BGRA like mss frames."""
    frame = np.zeros((height, width, 4), np.uint8)
    frame[..., 0], frame[..., 1], frame[..., 2] = colour[2], colour[1], colour[0]
    frame[..., 3] = 255
    return frame


def ui_frame(width: int = 1280, height: int = 800) -> Frame:
    """Flat panels, text-like strokes and a gradient: a rough stand-in for a desktop."""
    rng = np.random.default_rng(7)
    frame = bgra(width, height, (240, 240, 240))
    frame[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    frame[40 : height - 40, 40 : width // 2] = (255, 255, 255, 255)
    strokes = rng.random((height - 120, width // 2 - 100)) < 0.2
    frame[60 : height - 60, 60 : width // 2 - 40][strokes] = (20, 20, 20, 255)
    return frame


def decode(image: EncodedImage) -> Image.Image:
    return Image.open(io.BytesIO(image.data))


def test_scale_returns_the_frame_itself_when_the_size_matches() -> None:
    frame = bgra(64, 32, (1, 2, 3))
    assert scale(frame, (64, 32)) is frame


def test_scale_down_averages_pixels() -> None:
    checker = np.zeros((100, 100, 4), np.uint8)
    checker[::2, ::2] = checker[1::2, 1::2] = 255
    small = scale(checker, (50, 50))
    assert small.shape == (50, 50, 4)
    assert np.all(np.abs(small.astype(int) - 128) <= 1)  # area averaging, not sampling


def test_scale_up() -> None:
    frame = bgra(10, 5, (200, 100, 50))
    big = scale(frame, (40, 20))
    assert big.shape == (20, 40, 4)
    assert np.array_equal(big[10, 20], frame[0, 0])


def test_scale_rejects_bad_sizes_and_frames() -> None:
    with pytest.raises(ValueError, match="positive"):
        scale(bgra(4, 4, (0, 0, 0)), (0, 4))
    with pytest.raises(ValueError, match="uint8"):
        scale(np.zeros((4, 4, 4), np.float32), (2, 2))
    with pytest.raises(ValueError, match="uint8"):
        scale(np.zeros((4, 4), np.uint8), (2, 2))


def test_crop_is_an_exclusive_box_view() -> None:
    frame = np.arange(6 * 8 * 4, dtype=np.uint8).reshape(6, 8, 4)
    part = crop(frame, (2, 1, 5, 4))
    assert part.shape == (3, 3, 4)
    assert np.array_equal(part, frame[1:4, 2:5])
    assert np.shares_memory(part, frame)
    for box in [(0, 0, 9, 1), (3, 0, 3, 1), (-1, 0, 2, 2)]:
        with pytest.raises(ValueError, match="crop box"):
            crop(frame, box)


def test_zoom_uses_native_pixels_and_fills_the_budget() -> None:
    frame = bgra(1920, 1080, (255, 255, 255))
    frame[100:200, 300:500] = (0, 0, 255, 255)  # a red 200x100 block (BGRA)
    zoomed = zoom_image(frame, (300, 100, 500, 200))
    assert (zoomed.shape[1], zoomed.shape[0]) == max_image_size(200, 100) == (1568, 784)
    assert STANDARD_BUDGET.fits(zoomed.shape[1], zoomed.shape[0])
    assert np.all(zoomed[..., :3] == (0, 0, 255))


def test_zoom_shrinks_a_box_larger_than_the_budget() -> None:
    frame = ui_frame(1920, 1080)
    zoomed = zoom_image(frame, (0, 0, 1920, 1080))
    assert (zoomed.shape[1], zoomed.shape[0]) == (1456, 819)


def test_png_is_lossless_and_in_rgb_order() -> None:
    frame = ui_frame(320, 200)
    image = encode(frame, "png")
    assert (image.media_type, image.width, image.height) == ("image/png", 320, 200)
    decoded = np.asarray(decode(image).convert("RGB"))
    assert np.array_equal(decoded, frame[..., 2::-1])


@pytest.mark.parametrize("fmt", FORMATS)
def test_red_stays_red(fmt: ImageFormat) -> None:
    image = encode(bgra(64, 48, (255, 0, 0)), fmt)
    assert image.media_type == f"image/{fmt}"
    decoded = decode(image).convert("RGB")
    assert decoded.size == (64, 48)
    red, green, blue = decoded.getpixel((32, 24))
    assert red > 240 and green < 15 and blue < 15


@pytest.mark.parametrize("fmt", FORMATS)
def test_three_channel_bgr_frames_are_accepted(fmt: ImageFormat) -> None:
    bgr = np.ascontiguousarray(bgra(16, 16, (0, 0, 255))[..., :3])
    decoded = decode(encode(bgr, fmt)).convert("RGB")
    assert decoded.getpixel((8, 8))[2] > 240


def test_encoding_a_cropped_view_works() -> None:
    frame = ui_frame(320, 200)
    image = encode(crop(frame, (10, 10, 110, 60)), "png")
    assert (image.width, image.height) == (100, 50)
    assert np.array_equal(np.asarray(decode(image).convert("RGB")), frame[10:60, 10:110, 2::-1])


def test_quality_changes_lossy_size() -> None:
    frame = ui_frame(320, 200)
    assert len(encode(frame, "jpeg", 30).data) < len(encode(frame, "jpeg", 95).data)
    assert len(encode(frame, "webp", 30).data) < len(encode(frame, "webp", 95).data)


def test_bad_quality_and_format_are_rejected() -> None:
    frame = bgra(8, 8, (0, 0, 0))
    with pytest.raises(ValueError, match="takes no quality"):
        encode(frame, "png", 80)
    for quality in (0, 101):
        with pytest.raises(ValueError, match="quality"):
            encode(frame, "jpeg", quality)
    with pytest.raises(ValueError, match="unknown image format"):
        encode(frame, "gif")  # type: ignore[arg-type]


def test_base64_is_lazy_and_decodes_to_the_data() -> None:
    image = encode(bgra(8, 8, (10, 20, 30)), "png")
    assert "base64" not in vars(image)
    assert base64.b64decode(image.base64) == image.data
    assert "base64" in vars(image)
    assert to_base64(b"\x00\xff") == "AP8="
