"""Budgets, prices and the model table."""

from __future__ import annotations

import json

import pytest

from deskhand.agent.budget import Budgets, Spend
from deskhand.agent.config import RunConfig, Thinking
from deskhand.agent.context import ContextPolicy
from deskhand.agent.events import Usage
from deskhand.agent.models import Price, known_models, lookup
from deskhand.agent.toolbox import ToolVersions

PRICE = Price(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30)


def test_cost_counts_every_kind_of_token() -> None:
    usage = Usage(1_000_000, 100_000, 200_000, 2_000_000)
    assert PRICE.cost(usage) == pytest.approx(3.0 + 1.5 + 0.75 + 0.6)


def test_step_budget() -> None:
    spend = Spend(Budgets(max_steps=2), PRICE)
    assert spend.exceeded() is None
    spend.add_turn(Usage(10, 10))
    spend.add_turn(Usage(10, 10))
    assert "step budget" in (spend.exceeded() or "")


def test_cost_budget_stops_before_the_turn_that_would_cross_it() -> None:
    spend = Spend(Budgets(max_cost_usd=0.10), PRICE)
    spend.add_turn(Usage(20_000, 1_000))  # $0.075
    assert "cost budget" in (spend.exceeded() or "")


def test_token_budget() -> None:
    spend = Spend(Budgets(max_tokens=1000), None)
    spend.add_turn(Usage(300, 100))
    assert spend.exceeded() is None
    spend.add_turn(Usage(300, 100))
    assert "token budget" in (spend.exceeded() or "")
    assert spend.cost_usd == 0.0  # unknown price: no cost, not a made-up one


def test_time_taken_over_by_a_person_is_not_counted() -> None:
    spend = Spend(Budgets(max_seconds=10), None)
    spend.started -= 38  # eight seconds of work, then thirty with the desktop taken over
    spend.pause()
    assert spend.deadline is None  # no deadline while a person works
    spend.paused_since = (spend.paused_since or 0) - 30
    assert spend.elapsed == pytest.approx(8, abs=0.5) and spend.exceeded() is None
    spend.resume()
    assert spend.paused_s == pytest.approx(30, abs=0.5)
    assert spend.wall == pytest.approx(38, abs=0.5) and spend.elapsed == pytest.approx(8, abs=0.5)
    assert spend.deadline == pytest.approx(spend.started + 40, abs=0.5)
    spend.started -= 3
    assert "time budget" in (spend.exceeded() or "")


def test_budgets_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="max_steps"):
        Budgets(max_steps=0)


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("claude-sonnet-4-6", "claude-sonnet-4-6"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("claude-opus-4-1@20250805", "claude-opus-4-1"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-opus-4-10", "default"),
        ("claude-haiku-4-5-latest", "claude-haiku-4-5"),
    ],
)
def test_model_lookup(model: str, key: str) -> None:
    assert lookup(model).key == key


def test_every_model_entry_names_real_tool_versions() -> None:
    for model in known_models():
        info = lookup(model)
        versions = ToolVersions.for_computer(info.tool_version, info.editor)
        assert versions.computer == info.tool_version


def test_tool_groups_and_betas() -> None:
    old = ToolVersions.for_computer("computer_20241022", "text_editor_20250728")
    assert (old.bash, old.editor) == ("bash_20241022", "text_editor_20241022")
    assert old.betas == ["computer-use-2024-10-22"]
    assert ToolVersions.for_computer("computer_20251124").betas == ["computer-use-2025-11-24"]
    assert ToolVersions.for_computer("computer_toolset_20260801").betas == []
    with pytest.raises(ValueError, match="known types"):
        ToolVersions.for_computer("computer_19990101")


def test_a_cost_budget_needs_a_price() -> None:
    assert lookup("claude-sonnet-5-5").tool_version == "computer_toolset_20260801"
    assert lookup("claude-sonnet-5").price is None
    with pytest.raises(ValueError, match="no price"):
        RunConfig("task", model="claude-sonnet-5", budgets=Budgets(max_cost_usd=1.0))
    RunConfig("task", model="claude-sonnet-5", budgets=Budgets(max_tokens=10_000))


def test_config_survives_the_record_round_trip() -> None:
    config = RunConfig(
        "task",
        model="claude-opus-4-6",
        tool_version="computer_toolset_20260801",
        screen=(1024, 768),
        apps=("terminal",),
        thinking=Thinking("extended", budget_tokens=2048),
        context=ContextPolicy(keep_images=3, chunk=6),
    )
    assert RunConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
