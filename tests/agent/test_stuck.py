"""The loop detector: repeats and A-B-A-B patterns on an unchanged screen."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from deskhand.agent.stuck import LoopDetector

CLICK = {"action": "left_click", "coordinate": [10, 20]}
OTHER = {"action": "left_click", "coordinate": [30, 40]}


def test_same_action_same_screen_warns_then_stops() -> None:
    detector = LoopDetector()
    verdicts = [detector.observe("computer", CLICK, b"screen") for _ in range(5)]
    assert verdicts == ["ok", "ok", "warn", "ok", "stop"]


def test_same_action_with_a_changing_screen_is_progress() -> None:
    detector = LoopDetector()
    verdicts = [detector.observe("computer", CLICK, f"frame {n}".encode()) for n in range(10)]
    assert set(verdicts) == {"ok"}


def test_alternation_is_noticed() -> None:
    detector = LoopDetector()
    verdicts = []
    for _ in range(3):
        verdicts.append(detector.observe("computer", CLICK, b"menu open"))
        verdicts.append(detector.observe("computer", OTHER, b"menu closed"))
    assert verdicts == ["ok", "ok", "ok", "warn", "ok", "stop"]


def test_breaking_the_pattern_resets_the_warning() -> None:
    detector = LoopDetector()
    for _ in range(3):
        detector.observe("computer", CLICK, b"same")
    assert detector.observe("bash", {"command": "ls"}, b"files") == "ok"
    assert [detector.observe("computer", CLICK, b"same") for _ in range(3)] == ["ok", "ok", "warn"]


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=40, unique=True))
def test_distinct_calls_never_warn(values: list[int]) -> None:
    detector = LoopDetector()
    for value in values:
        assert detector.observe("computer", {"n": value}, b"screen") == "ok"


def test_input_key_order_does_not_matter() -> None:
    detector = LoopDetector()
    detector.observe("computer", {"a": 1, "b": 2}, b"s")
    detector.observe("computer", {"b": 2, "a": 1}, b"s")
    assert detector.observe("computer", {"a": 1, "b": 2}, b"s") == "warn"
