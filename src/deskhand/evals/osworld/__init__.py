"""OSWorld's task files on deskhand's desktops: load them as published, say which can run here
and why the others cannot, set them up and score them with OSWorld's own evaluator semantics.

See docs/osworld.md. OSWorld (xlang-ai/OSWorld) is Apache-2.0; its task files ship unmodified
in data/. `harness.OsworldEvalTask` runs them in the evaluation harness.
"""

from .compat import Compatibility, Summary, classify, classify_all, summarize
from .config import Environment, cloud_cache_name, download_cache_name
from .evaluator import GETTERS, METRICS, EvalResult
from .loader import OsworldFormatError, OsworldTaskSpec, load_index, load_task_file, load_tasks
from .reasons import Reason
from .task import NotRunnableHere, OsworldTask, load_osworld_tasks

__all__ = [
    "GETTERS",
    "METRICS",
    "Compatibility",
    "Environment",
    "EvalResult",
    "NotRunnableHere",
    "OsworldFormatError",
    "OsworldTask",
    "OsworldTaskSpec",
    "Reason",
    "Summary",
    "classify",
    "classify_all",
    "cloud_cache_name",
    "download_cache_name",
    "load_index",
    "load_osworld_tasks",
    "load_task_file",
    "load_tasks",
    "summarize",
]
