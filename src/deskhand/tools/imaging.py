"""Host-side image pipeline: scale, crop, zoom and encode BGRA frames for the API.

Frames are numpy uint8 arrays of shape (h, w, 4) in BGRA order, as mss's XShm capture gives
them. Encoders were picked by measurement on a synthetic 1280x800 UI-like frame (text, flat
panels, a gradient, a photo patch; 2-core VM, medians):
- PNG: OpenCV, zlib level 1, "Up" row filter: ~14 ms. libpng's adaptive filters took ~29 ms
  and Pillow at level 1 ~35-46 ms whatever the zlib strategy (default, Z_RLE, Z_FILTERED).
- JPEG: OpenCV's libjpeg-turbo, ~3 ms (Pillow ~4 ms).
- WebP: Pillow at method 0, ~24 ms (OpenCV's WebP ~68 ms).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, cast, get_args

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from deskhand.tools.scaling import STANDARD_BUDGET, ImageBudget, max_image_size

Frame = npt.NDArray[np.uint8]
ImageFormat = Literal["png", "jpeg", "webp"]
MediaType = Literal["image/png", "image/jpeg", "image/webp"]


@dataclass(frozen=True)
class EncodedImage:
    """An encoded image and the pixel size the model will see."""

    media_type: MediaType
    data: bytes
    width: int
    height: int

    @cached_property
    def base64(self) -> str:
        """The base64 text for an image block, computed on first use."""
        return to_base64(self.data)


def parse_image_format(text: str) -> ImageFormat:
    """Check a format name from the command line."""
    for known in get_args(ImageFormat):
        if text == known:
            return cast(ImageFormat, known)
    raise ValueError(f"unknown image format {text!r}; use png, jpeg or webp")


def to_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _check_frame(frame: Frame) -> None:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise ValueError(
            "expected a uint8 BGRA (h, w, 4) or BGR (h, w, 3) frame,"
            f" got {frame.dtype} {frame.shape}"
        )
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"frame is empty: {frame.shape}")


def scale(frame: Frame, size: tuple[int, int]) -> Frame:
    """Resize to (width, height): INTER_AREA to shrink (sharp text, no aliasing), cubic to grow.

    Returns the frame itself when it already has that size.
    """
    _check_frame(frame)
    width, height = size
    if width <= 0 or height <= 0:
        raise ValueError(f"target size must be positive, got {width}x{height}")
    frame_h, frame_w = frame.shape[:2]
    if (width, height) == (frame_w, frame_h):
        return frame
    shrinking = width <= frame_w and height <= frame_h
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cast(Frame, cv2.resize(frame, (width, height), interpolation=interpolation))


def crop(frame: Frame, box: tuple[int, int, int, int]) -> Frame:
    """The (x0, y0, x1, y1) box of the frame, x1/y1 exclusive, as a view (no copy)."""
    _check_frame(frame)
    x0, y0, x1, y1 = box
    frame_h, frame_w = frame.shape[:2]
    if not (0 <= x0 < x1 <= frame_w and 0 <= y0 < y1 <= frame_h):
        raise ValueError(f"crop box {box} is empty or outside the {frame_w}x{frame_h} frame")
    return frame[y0:y1, x0:x1]


def zoom_image(
    frame: Frame, screen_box: tuple[int, int, int, int], budget: ImageBudget = STANDARD_BUDGET
) -> Frame:
    """Crop a screen-space box at native resolution and scale it to fill the image budget.

    Cropping the full-resolution frame (not the downscaled screenshot) is what gives zoom real
    detail; scaling up to the largest size the API accepts makes small text legible.
    """
    region = crop(frame, screen_box)
    height, width = region.shape[:2]
    return scale(region, max_image_size(width, height, budget))


def _to_bgr(frame: Frame) -> Frame:
    if frame.shape[2] == 3:
        return frame
    return cast(Frame, cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR))


def _imencode(extension: str, frame: Frame, params: list[int]) -> bytes:
    ok, buffer = cv2.imencode(extension, _to_bgr(frame), params)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {extension}")
    return bytes(buffer.tobytes())


def _encode_png(frame: Frame, quality: int | None) -> bytes:
    if quality is not None:
        raise ValueError("PNG is lossless and takes no quality")
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
    return _imencode(".png", frame, params)


def _encode_jpeg(frame: Frame, quality: int | None) -> bytes:
    params = [
        cv2.IMWRITE_JPEG_QUALITY,
        _quality(quality, default=85),
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    ]
    return _imencode(".jpg", frame, params)


def _encode_webp(frame: Frame, quality: int | None) -> bytes:
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB if frame.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "WEBP", quality=_quality(quality, default=80), method=0)
    return out.getvalue()


def _quality(quality: int | None, *, default: int) -> int:
    if quality is None:
        return default
    if isinstance(quality, bool) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer from 1 to 100, got {quality!r}")
    return quality


_ENCODERS: dict[ImageFormat, tuple[MediaType, Callable[[Frame, int | None], bytes]]] = {
    "png": ("image/png", _encode_png),
    "jpeg": ("image/jpeg", _encode_jpeg),
    "webp": ("image/webp", _encode_webp),
}


def encode(frame: Frame, fmt: ImageFormat = "png", quality: int | None = None) -> EncodedImage:
    """Encode a BGRA (or BGR) frame; PNG is lossless, JPEG defaults to q85 4:2:0, WebP to q80."""
    _check_frame(frame)
    if fmt not in _ENCODERS:
        raise ValueError(f"unknown image format {fmt!r}; use one of {', '.join(_ENCODERS)}")
    media_type, encoder = _ENCODERS[fmt]
    height, width = frame.shape[:2]
    return EncodedImage(media_type, encoder(frame, quality), width, height)
