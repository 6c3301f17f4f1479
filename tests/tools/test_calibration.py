"""Calibration: model-space coordinates land on the right screen pixels, on real desktops.

On a 1920x1080 desktop (the model sees 1456x819) and a 1280x800 one (seen as it is), with the
event recorder full-screen:
- a 12x8 grid of model points, edges included, is clicked: each press the X server delivers is at
  exactly the pixel under the centre of the point's span, and cursor_position reads it back;
- pointer positions set by someone else read back as the model pixel that contains them;
- red squares painted at known screen pixels are found in the screenshot the model gets, their
  centres map back to those pixels within 1 px, and clicking where the model sees them hits them.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from recorder import SandboxRecorder, paint_squares, running_recorder

from deskhand.sandbox.desktop import Desktop, DesktopOptions
from deskhand.tools.computer import ComputerTool
from deskhand.tools.results import ToolResult

pytestmark = pytest.mark.desktop

# Screen size -> the screenshot size the API takes without shrinking it (the model space).
MODEL_SIZES = {(1920, 1080): (1456, 819), (1280, 800): (1280, 800)}
GRID_COLUMNS, GRID_ROWS = 12, 8
BACKGROUND = "#303030"  # grey: redness (R - max(G, B)) is 0 on it and on the pointer
TARGET = "#ff0000"
TARGET_SIZE = 5


@pytest.fixture(scope="module", params=list(MODEL_SIZES), ids=lambda size: "{}x{}".format(*size))
async def desk(request: pytest.FixtureRequest) -> AsyncIterator[Desktop]:
    width, height = request.param
    async with await Desktop.start(DesktopOptions(width=width, height=height)) as desk:
        yield desk


@pytest.fixture(scope="module")
async def rec(desk: Desktop) -> AsyncIterator[SandboxRecorder]:
    async with running_recorder(desk, "--fullscreen", "--background", BACKGROUND) as recorder:
        yield recorder


@pytest.fixture(scope="module")
async def tool(desk: Desktop) -> ComputerTool:
    return await ComputerTool.create(desk.computer, "computer_20251124")


def sizes(desk: Desktop) -> tuple[int, int, int, int]:
    """(screen width, screen height, model width, model height)."""
    width, height = desk.options.width, desk.options.height
    return width, height, *MODEL_SIZES[width, height]


def grid(model_w: int, model_h: int) -> list[tuple[int, int]]:
    xs = [round(i * (model_w - 1) / (GRID_COLUMNS - 1)) for i in range(GRID_COLUMNS)]
    ys = [round(j * (model_h - 1) / (GRID_ROWS - 1)) for j in range(GRID_ROWS)]
    return [(x, y) for y in ys for x in xs]


def decode(result: ToolResult) -> npt.NDArray[np.uint8]:
    assert result.error is None, result.error
    assert result.image is not None
    image = cv2.imdecode(np.frombuffer(result.image.data, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image, dtype=np.uint8)


async def test_screenshots_have_the_model_size(desk: Desktop, tool: ComputerTool) -> None:
    model_w, model_h = sizes(desk)[2:]
    assert tool.geometry.model_size == (model_w, model_h)
    assert tool.definition().get("display_width_px") == model_w
    assert tool.definition().get("display_height_px") == model_h
    image = decode(await tool.run("computer", {"action": "screenshot"}))
    assert image.shape[:2] == (model_h, model_w)


async def test_grid_clicks_land_on_the_pixel_under_each_model_point(
    desk: Desktop, rec: SandboxRecorder, tool: ComputerTool
) -> None:
    width, height, model_w, model_h = sizes(desk)
    points = grid(model_w, model_h)
    mark = rec.mark()
    for x, y in points:
        result = await tool.run("computer", {"action": "left_click", "coordinate": [x, y]})
        assert result.error is None, result.error
        position = await tool.run("computer", {"action": "cursor_position"})
        assert position.output == f"X={x},Y={y}"
    presses = await rec.wait_count(len(points), "button_press", since=mark)
    landed = [(int(p["x_root"]), int(p["y_root"])) for p in presses]
    assert len(landed) == len(points)
    assert landed == [tool.geometry.to_screen(x, y) for x, y in points]
    for (x, y), (sx, sy) in zip(points, landed, strict=True):
        # The screen pixel under the centre of the model pixel's span.
        for model_v, screen_v, span in ((x, sx, width / model_w), (y, sy, height / model_h)):
            assert screen_v <= (model_v + 0.5) * span < screen_v + 1
    # The grid's corners are the screen's corners.
    assert landed[0] == (0, 0) and landed[-1] == (width - 1, height - 1)
    if (model_w, model_h) == (width, height):
        assert landed == points


async def test_pointer_positions_read_back_as_their_model_pixel(
    desk: Desktop, tool: ComputerTool
) -> None:
    width, height, model_w, model_h = sizes(desk)
    rng = np.random.default_rng(1)
    pixels = [(0, 0), (width - 1, height - 1), (width - 1, 0), (0, height - 1)]
    pixels += [
        (int(x), int(y))
        for x, y in zip(rng.integers(0, width, 16), rng.integers(0, height, 16), strict=True)
    ]
    for sx, sy in pixels:
        moved = await desk.computer.run(["xdotool", "mousemove", str(sx), str(sy)])
        assert moved.returncode == 0, moved.stderr
        result = await tool.run("computer", {"action": "cursor_position"})
        x = math.floor((sx + 0.5) * model_w / width)
        y = math.floor((sy + 0.5) * model_h / height)
        assert result.output == f"X={x},Y={y}", (sx, sy)
        # And back: the model point lands within a pixel of where the pointer was.
        back = tool.geometry.to_screen(x, y)
        assert abs(back[0] - sx) <= 1 and abs(back[1] - sy) <= 1


def targets(width: int, height: int) -> list[tuple[int, int]]:
    """Screen pixels to paint, edges included, at odd offsets (not on a model-pixel grid)."""
    edge = TARGET_SIZE // 2
    return [
        (edge, edge),
        (width - 1 - edge, edge),
        (edge, height - 1 - edge),
        (width - 1 - edge, height - 1 - edge),
        (width // 2, height // 2),
        (width // 3 + 1, height // 4 + 2),
        (2 * width // 3 - 1, 3 * height // 4 + 1),
        (101, 517),
        (width - 250, 33),
        (47, height - 180),
        (width // 2 + 37, 3),
        (width - 3, height // 2 + 11),
    ]


def red_blobs(image: npt.NDArray[np.uint8]) -> list[tuple[float, float]]:
    """Sub-pixel centres of the red blobs, weighted by how red each pixel is (its coverage)."""
    blue, green, red = (image[..., i].astype(np.float64) for i in range(3))
    redness = np.clip(red - np.maximum(green, blue), 0, 255) / 255
    count, labels = cv2.connectedComponents((redness > 0.02).astype(np.uint8), connectivity=8)
    ys, xs = np.indices(redness.shape)
    centres = []
    for label in range(1, count):
        weight = np.where(labels == label, redness, 0.0)
        total = weight.sum()
        centres.append((float((weight * xs).sum() / total), float((weight * ys).sum() / total)))
    return centres


async def test_drawn_targets_map_back_to_their_pixels(
    desk: Desktop, rec: SandboxRecorder, tool: ComputerTool
) -> None:
    width, height, model_w, model_h = sizes(desk)
    painted = targets(width, height)
    await paint_squares(desk, rec.window, painted, size=TARGET_SIZE, colour=TARGET)
    frame = await desk.computer.screenshot(cursor=False)
    assert all(tuple(frame.pixels[y, x, :3]) == (0, 0, 255) for x, y in painted)
    # Park the pointer away from every target, then look the way the model does.
    park = (model_w * 3 // 5, model_h * 3 // 8)
    assert all(math.dist(tool.geometry.to_screen(*park), t) > 40 for t in painted)
    await tool.run("computer", {"action": "mouse_move", "coordinate": list(park)})
    seen = red_blobs(decode(await tool.run("computer", {"action": "screenshot"})))
    assert len(seen) == len(painted), seen
    scale_x, scale_y = width / model_w, height / model_h
    for x, y in painted:
        cx, cy = min(seen, key=lambda c: math.dist(c, ((x + 0.5) / scale_x, (y + 0.5) / scale_y)))
        # Model pixel i covers screen [i * scale, (i + 1) * scale): centres map linearly.
        back_x, back_y = (cx + 0.5) * scale_x - 0.5, (cy + 0.5) * scale_y - 0.5
        assert abs(back_x - x) <= 1 and abs(back_y - y) <= 1, ((x, y), (back_x, back_y))
        # Clicking where the model sees the target hits it.
        point = [min(round(cx), model_w - 1), min(round(cy), model_h - 1)]
        mark = rec.mark()
        result = await tool.run("computer", {"action": "left_click", "coordinate": point})
        assert result.error is None, result.error
        press = (await rec.wait_count(1, "button_press", since=mark))[0]
        assert abs(press["x_root"] - x) <= 1 and abs(press["y_root"] - y) <= 1, (x, y, press)
