"""`deskhand.gym`: the gymnasium environment over deskhand tasks (see deskhand.evals.gym).

Also registered with gymnasium as ``deskhand/Desktop-v0``:
``gymnasium.make("deskhand/Desktop-v0", tasks="builtin")``.
"""

import gymnasium

from deskhand.evals.gym import DesktopEnv, ToolCallSpace

ENV_ID = "deskhand/Desktop-v0"
if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="deskhand.evals.gym:DesktopEnv")

__all__ = ["ENV_ID", "DesktopEnv", "ToolCallSpace"]
