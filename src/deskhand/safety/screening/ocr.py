"""Offline OCR for screen screening: RapidOCR (PP-OCRv6 small, ONNX Runtime).

Why RapidOCR: the `rapidocr` wheel ships its detection and recognition models (PP-OCRv6 small,
about 31 MB) inside the package, so it reads text with no download and no network, and it runs
on the CPU through ONNX Runtime. Its recogniser covers Chinese, English, Japanese (kana and
kanji) and the Latin-script languages (German, French, Spanish...). It does not read Cyrillic:
Russian text on a screen is not recognised (Russian in tool *text* output is still screened).
The model paths are given explicitly, so a missing model is an error, never a download.

The engine is loaded once per process on first use, under a lock; recognition is serialised by
the same lock (it already uses every core). It is CPU-bound and takes around a second for a
full 1280x800 screen, so callers on an event loop run it with `asyncio.to_thread` (see
`detector.ascreen_image` and `Screener.ascreen`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

Box = tuple[int, int, int, int]
"""(x0, y0, x1, y1) in pixels of the image that was read, x1/y1 exclusive."""

ImageInput = bytes | Image.Image | npt.NDArray[np.uint8]
"""Encoded image bytes (PNG/JPEG/WebP), a PIL image, or a BGRA/BGR frame as captured."""


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: Box
    score: float


class OcrUnavailable(RuntimeError):
    """The OCR engine or its bundled models cannot be loaded."""


_lock = threading.Lock()
_engine: Any = None


def _model_dir() -> Path:
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise OcrUnavailable("the rapidocr package is not installed")
    return Path(spec.origin).parent / "models"


def _load() -> Any:
    models = _model_dir()
    paths = {
        "Det.model_path": models / "PP-OCRv6_det_small.onnx",
        "Rec.model_path": models / "PP-OCRv6_rec_small.onnx",
        "Cls.model_path": models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    }
    for path in paths.values():
        if not path.is_file():
            raise OcrUnavailable(f"bundled OCR model missing: {path}")
    rapidocr = importlib.import_module("rapidocr")
    params: dict[str, Any] = {key: str(path) for key, path in paths.items()}
    params.update(
        {
            "Global.log_level": "error",
            # Screens are upright: the angle classifier costs time and finds nothing.
            "Global.use_cls": False,
            # Detect on the screen at up to its own size (the default shrinks to 736 px on the
            # short side only when larger; "max" keeps small UI text readable and is faster).
            "Det.limit_type": "max",
            "Det.limit_side_len": 1280,
        }
    )
    return rapidocr.RapidOCR(params=params)


def engine() -> Any:
    """The process's OCR engine, loaded on first use."""
    global _engine
    with _lock:
        if _engine is None:
            try:
                _engine = _load()
            except OcrUnavailable:
                raise
            except Exception as exc:
                raise OcrUnavailable(f"could not load the OCR engine: {exc}") from exc
        return _engine


def to_bgr(image: ImageInput) -> npt.NDArray[np.uint8]:
    """Decode any accepted input to a BGR uint8 array (raises ValueError when unreadable)."""
    if isinstance(image, bytes | bytearray | memoryview):
        try:
            with Image.open(io.BytesIO(bytes(image))) as decoded:
                rgb = np.asarray(decoded.convert("RGB"))
        except Exception as exc:
            raise ValueError(f"not a readable image: {exc}") from exc
        return np.ascontiguousarray(rgb[:, :, ::-1])
    if isinstance(image, Image.Image):
        rgb = np.asarray(image.convert("RGB"))
        return np.ascontiguousarray(rgb[:, :, ::-1])
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"expected a uint8 BGR(A) frame, got {array.dtype} {array.shape}")
    if array.shape[2] == 4:
        return np.ascontiguousarray(cv2.cvtColor(array, cv2.COLOR_BGRA2BGR))
    return np.ascontiguousarray(array)


def image_key(image: ImageInput) -> str:
    """A hash of the image's content: encoded bytes as given, or the pixels of a frame."""
    if isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
    elif isinstance(image, Image.Image):
        data = image.tobytes() + repr((image.mode, image.size)).encode()
    else:
        array = np.ascontiguousarray(image)
        data = array.tobytes() + repr(array.shape).encode()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _box(points: Any) -> Box:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def read_bgr(bgr: npt.NDArray[np.uint8]) -> list[OcrLine]:
    """OCR a BGR array (blocking; call from a worker thread on an event loop)."""
    ocr = engine()
    with _lock:
        result = ocr(bgr)
    texts = getattr(result, "txts", None)
    if not texts:
        return []
    lines = [
        OcrLine(str(text), _box(box), float(score))
        for text, score, box in zip(texts, result.scores, result.boxes, strict=True)
    ]
    # Reading order: top to bottom, then left to right within a line's height.
    lines.sort(key=lambda line: (line.box[1] // 12, line.box[0]))
    return lines


def read_text(image: ImageInput) -> list[OcrLine]:
    """The text lines in an image, each with its box and confidence, in reading order.

    Blocking and CPU-bound (about a second for a 1280x800 screen): on an event loop call it
    through `asyncio.to_thread`. Raises ValueError for an unreadable image and OcrUnavailable
    when the engine cannot load.
    """
    return read_bgr(to_bgr(image))
