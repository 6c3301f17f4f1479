"""deskhand.gym: reset returns the first screen, step takes a tool call, the reward is the
checker's verdict at the end; gymnasium's SyncVectorEnv runs two."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from deskhand.evals.environment import EnvironmentOptions
from deskhand.evals.osworld.cli import BUNDLED_TASKS
from deskhand.evals.osworld.harness import load_osworld_suite
from deskhand.evals.runnable import select
from deskhand.evals.tasks import Task
from deskhand.gym import ENV_ID, DesktopEnv

pytestmark = pytest.mark.desktop

SUM = {"tool": "bash", "input": {"command": "paste -sd+ ~/data/numbers.txt | bc > ~/sum.txt"}}
WRONG = {"tool": "bash", "input": {"command": "echo 1 > ~/sum.txt"}}
DONE = {"tool": "done", "input": {}}


def test_reset_step_reward_and_truncation(
    tasks: dict[str, Task], env_options: EnvironmentOptions
) -> None:
    # gymnasium.make wraps the env in gymnasium's passive API checker. (Its full check_env also
    # demands that two seeded episodes give identical screens, which a live desktop with a
    # blinking text cursor does not promise.)
    env = gymnasium.make(ENV_ID, tasks=list(tasks.values()), environment=env_options)
    try:
        obs, info = env.reset(options={"task": "editor-note"})
        assert obs.shape == (800, 1280, 3) and obs.dtype == np.uint8
        assert env.observation_space.contains(obs)
        assert info["task"] == "editor-note" and info["max_steps"] == 10
        key = {"tool": "computer", "input": {"action": "key", "text": "ctrl+End"}}
        _, reward, terminated, truncated, info = env.step(key)
        assert (reward, terminated, truncated) == (0.0, False, False) and info["error"] is None
        with pytest.raises(ValueError, match="not a tool call"):
            env.step({"tool": "teleport"})
        for call in (
            {"tool": "computer", "input": {"action": "type", "text": "hello evals\n"}},
            {"tool": "computer", "input": {"action": "key", "text": "ctrl+s"}},
        ):
            env.step(call)
        _, reward, terminated, _, info = env.step(DONE)
        assert reward == 1.0 and terminated and "hello evals" in info["check"]
        inner = env.unwrapped
        assert isinstance(inner, DesktopEnv)
        last = inner.render()
        assert last is not None and not np.array_equal(obs, last)  # the screen changed

        env.reset(options={"task": "shell-sum"})
        assert isinstance(inner.task, Task)
        inner.task = inner.task.model_copy(update={"max_steps": 1})
        _, reward, terminated, truncated, info = env.step(WRONG)
        assert (reward, terminated, truncated) == (0.0, False, True) and "differs" in info["check"]
    finally:
        env.close()


def test_two_envs_through_gymnasiums_vector_api(
    tasks: dict[str, Task], env_options: EnvironmentOptions
) -> None:
    suite = list(tasks.values())
    envs = gymnasium.vector.SyncVectorEnv(
        [lambda: DesktopEnv(suite, environment=env_options) for _ in range(2)]
    )
    try:
        obs, info = envs.reset(options={"task": "shell-sum"})
        assert obs.shape == (2, 800, 1280, 3)
        assert list(info["task"]) == ["shell-sum", "shell-sum"]
        _, rewards, terminated, _, _ = envs.step((SUM, WRONG))
        assert list(rewards) == [0.0, 0.0] and not terminated.any()
        _, rewards, terminated, _, info = envs.step((DONE, DONE))
        assert list(rewards) == [1.0, 0.0] and terminated.all()
    finally:
        envs.close()


def test_an_osworld_episode_ends_with_a_final_answer(env_options: EnvironmentOptions) -> None:
    """OSWorld's tasks are episodes too; "done" with the answer FAIL passes an infeasible one
    and a bare "done" fails it."""
    bluetooth = "os/b3d4a89c-53f2-4d6b-8b6a-541fb5d205fa"
    env = DesktopEnv(
        select(load_osworld_suite(BUNDLED_TASKS), [bluetooth]), environment=env_options
    )
    try:
        _, info = env.reset()
        assert info["task"] == bluetooth and "FAIL" in info["instruction"]
        assert not env.action_space.contains({"tool": "done", "input": {"answer": 1}})
        _, reward, terminated, _, _ = env.step({"tool": "done", "input": {"answer": "FAIL"}})
        assert (reward, terminated) == (1.0, True)
        env.reset()
        _, reward, _, _, info = env.step(DONE)
        assert reward == 0.0 and "infeasible" in info["check"]
    finally:
        env.close()
