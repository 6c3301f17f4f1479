"""Which OSWorld tasks can run on this machine, and exactly why the others cannot.

Every reason comes from reading the task: its related apps, each config step, the evaluator's
postconfig, getters and metrics, planned with the same code that runs them (`config.plan_*`,
`evaluator.getter_reasons`), against what is installed here and what the cache folder holds.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from .config import EQUIVALENT_APPS, Environment, app_name, plan_steps
from .evaluator import getter_reasons, metric_reasons
from .loader import OsworldTaskSpec
from .reasons import Reason, dedupe, headline

# OSWorld's `related_apps` names -> the program the task needs (None: nothing to install).
RELATED_APPS: dict[str, str | None] = {
    "chrome": "google-chrome",
    "browser": "google-chrome",
    "os": None,
    "terminal": None,
    "pdf": None,
    "image": None,
    "libreoffice": "libreoffice",
    "libreoffice_calc": "libreoffice",
    "libreoffice calc": "libreoffice",
    "libreoffice_impress": "libreoffice",
    "libreoffice_writer": "libreoffice",
    "calc": "libreoffice",
    "writer": "libreoffice",
    "gimp": "gimp",
    "vlc": "vlc",
    "ubuntu_media_player": "vlc",
    "thunderbird": "thunderbird",
    "vscode": "code",
    "vs_code": "code",
    "picard": "picard",
}


@dataclass(frozen=True)
class Compatibility:
    task: OsworldTaskSpec
    reasons: tuple[Reason, ...]

    @property
    def runnable(self) -> bool:
        return not self.reasons

    @property
    def infeasible(self) -> bool:
        """Infeasible by design: it passes only when the agent answers FAIL (OSWorld's rule)."""
        return self.task.infeasible

    @property
    def headline(self) -> Reason | None:
        return headline(list(self.reasons))

    def to_json(self) -> dict[str, object]:
        head = self.headline
        return {
            "domain": self.task.domain,
            "id": self.task.id,
            "runnable": self.runnable,
            "infeasible": self.infeasible,
            "reason": str(head) if head else None,
            "reasons": [{"kind": r.kind, "detail": r.detail} for r in self.reasons],
            "instruction": self.task.instruction,
        }


def app_reasons(task: OsworldTaskSpec, env: Environment) -> list[Reason]:
    reasons = []
    for name in task.related_apps:
        program = RELATED_APPS.get(name.lower(), name.lower())
        if program is None or program in EQUIVALENT_APPS or env.has_program(program):
            continue
        reasons.append(
            Reason("missing_app", f"{app_name(program)} ({program}) is not installed here")
        )
    return reasons


_URL = re.compile(r"https?://[^\s\"'<>)]+")
_LOCAL = ("http://localhost", "https://localhost", "http://127.", "https://127.")
# A web site named without a scheme ("from gnome-look.org"): a host under a common web TLD.
_SITE = re.compile(r"\b(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|dev|app|edu|gov)\b")


def web_reasons(task: OsworldTaskSpec) -> list[Reason]:
    """Signs in the task itself that the agent must use the live web."""
    reasons = []
    urls = [u for u in _URL.findall(task.instruction) if not u.startswith(_LOCAL)]
    sites = _SITE.findall(_URL.sub(" ", task.instruction.lower()))
    if urls:
        reasons.append(Reason("needs_network", f"the instruction points at {urls[0].rstrip('.,')}"))
    elif sites:
        reasons.append(Reason("needs_network", f"the instruction names the web site {sites[0]}"))
    if "search the internet" in task.instruction.lower():
        reasons.append(Reason("needs_network", "the instruction says to search the Internet"))
    evaluator = task.evaluator
    if evaluator is not None:
        for index in range(len(evaluator.funcs)):
            result, expected = evaluator.result_of(index), evaluator.expected_of(index)
            if result is None or expected is None or result.get("type") != "bookmarks":
                continue
            if expected.get("type") == "rule" and _URL.search(json.dumps(expected)):
                reasons.append(
                    Reason("needs_network", "the expected bookmarks are web pages to find online")
                )
    return reasons


def flag_reasons(task: OsworldTaskSpec, env: Environment) -> list[Reason]:
    """chrome://flags a task must change, which this Chromium may no longer have."""
    evaluator = task.evaluator
    if evaluator is None:
        return []
    reasons = []
    for index, name in enumerate(evaluator.funcs):
        expected = evaluator.expected_of(index) or {}
        if name != "check_enabled_experiments" or expected.get("type") != "rule":
            continue
        for flag in expected.get("rules", {}).get("names", []):
            if not env.has_chrome_flag(str(flag)):
                reasons.append(
                    Reason("environment", f"this Chromium has no chrome://flags entry {flag}")
                )
    return reasons


def default_reasons(task: OsworldTaskSpec, env: Environment) -> list[Reason]:
    """A check that this desktop's defaults already pass (doing nothing would pass): an
    exact_match on `gsettings get SCHEMA KEY` whose expected value is the installed default,
    for a key the setup does not change."""
    evaluator = task.evaluator
    if evaluator is None:
        return []
    setup = json.dumps([step.parameters for step in task.config])
    reasons = []
    for index, name in enumerate(evaluator.funcs):
        result, rule = evaluator.result_of(index) or {}, evaluator.expected_of(index) or {}
        if name != "exact_match" or result.get("type") != "vm_command_line":
            continue
        expected = rule.get("rules", {}).get("expected") if rule.get("type") == "rule" else None
        command = result.get("command")
        words = command.split() if isinstance(command, str) else command
        if not isinstance(expected, str) or not isinstance(words, list):
            continue
        if words[:2] != ["gsettings", "get"] or len(words) != 4:
            continue
        schema, key = words[2], words[3]
        changed = f"gsettings set {schema} {key}" in setup
        if not changed and env.settings_default(schema, key) == expected:
            default = expected.strip()
            detail = f"{schema} {key} is {default} here by default: doing nothing would pass"
            reasons.append(Reason("environment", detail))
    return reasons


def classify(task: OsworldTaskSpec, env: Environment) -> Compatibility:
    reasons: list[Reason] = []
    evaluator = task.evaluator
    if evaluator is None or not all(evaluator.funcs):
        reasons.append(Reason("no_evaluator", "the task file has no evaluator function"))
    reasons += app_reasons(task, env)
    reasons += web_reasons(task)
    if task.proxy:
        reasons.append(Reason("needs_network", "needs live websites through a proxy (proxy: true)"))
    reasons += plan_steps(task.config, task.id, env).reasons
    if evaluator is not None:
        reasons += plan_steps(evaluator.postconfig, task.id, env).reasons
        saved = {
            str(step.parameters.get("stdout"))
            for step in [*task.config, *evaluator.postconfig]
            if step.parameters.get("stdout")
        }
        for getter in evaluator.getters():
            if getter.get("type") == "cache_file":
                if (
                    str(getter.get("path")) not in saved
                    and env.cache_file(f"{task.id}/{getter.get('path')}") is None
                ):
                    reasons.append(
                        Reason("needs_cache", f"needs cache file {task.id}/{getter.get('path')}")
                    )
                continue
            reasons += getter_reasons(getter, task.id, env)
        reasons += metric_reasons(evaluator)
        reasons += flag_reasons(task, env)
        reasons += default_reasons(task, env)
    return Compatibility(task, tuple(dedupe(reasons)))


def classify_all(tasks: Iterable[OsworldTaskSpec], env: Environment) -> list[Compatibility]:
    return [classify(task, env) for task in tasks]


@dataclass(frozen=True)
class Summary:
    total: int
    runnable: int
    infeasible: int  # runnable tasks that pass only when the agent answers FAIL
    by_domain: dict[str, tuple[int, int]]  # domain -> (runnable, total)
    cache_only: dict[str, int]  # domain -> tasks that only lack files from the cache
    by_kind: dict[str, int]  # headline reason kind -> tasks
    by_reason: dict[str, int]  # every reason (kind: detail) -> tasks it blocks


def summarize(results: Iterable[Compatibility]) -> Summary:
    results = list(results)
    domains: dict[str, list[int]] = {}
    kinds: Counter[str] = Counter()
    every: Counter[str] = Counter()
    cache_only: Counter[str] = Counter()
    for item in results:
        if item.reasons and all(r.kind == "needs_cache" for r in item.reasons):
            cache_only[item.task.domain] += 1
        counts = domains.setdefault(item.task.domain, [0, 0])
        counts[0] += item.runnable
        counts[1] += 1
        head = item.headline
        if head is not None:
            kinds[head.kind] += 1
        every.update(str(r) for r in item.reasons)
    return Summary(
        total=len(results),
        runnable=sum(item.runnable for item in results),
        infeasible=sum(item.runnable and item.infeasible for item in results),
        by_domain={d: (c[0], c[1]) for d, c in domains.items()},
        cache_only={d: cache_only[d] for d in domains},
        by_kind=dict(kinds.most_common()),
        by_reason=dict(sorted(every.items(), key=lambda kv: (-kv[1], kv[0]))),
    )
