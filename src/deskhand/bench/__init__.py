"""`deskhand bench`: where a computer-tool step spends its time, against the reference demo.

One run starts a sandboxed desktop (two terminals, a browser on local pages, bare desktop),
then measures every action type through `ComputerTool` (action, settle, capture, scale, encode,
total), the same steps done the reference demo's way (xdotool through a shell, a fixed 2 s
sleep, scrot, ImageMagick, base64), and whether the settled screenshot equals the screen a
moment later in the settle scenarios S1-S9 of research/screen-io-perf.md.

Modules: `stats` (percentiles), `steps` (the measuring loop both ways share), `pages` and
`scene` (the desktop), `actions` (the action catalogue and the tool's way), `reference` (the
demo's way), `settling` (the settle scenarios), `results` (targets, JSON), `report` (rich
output), `runner` (one whole run).
"""

from deskhand.bench.results import BenchResults, Target
from deskhand.bench.runner import BenchConfig, run_bench

__all__ = ["BenchConfig", "BenchResults", "Target", "run_bench"]
