"""What a tool result passes through before the model (or the run record) sees it.

1. Secret values are masked out of screenshots (the vault's values, found by OCR).
2. Screens and tool output are screened for prompt injection; a hit adds a delimited warning
   after the result and is returned so the gate can escalate the next consequential action.

One OCR pass serves both: the screener keeps the lines of the frame it read. Anything that
cannot be checked fails closed: an unscreenable result is a hit, and a screenshot that cannot
be checked for secrets is withheld from the model.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from deskhand.safety.screening.detector import Screener, Verdict, screen_text, warning_for
from deskhand.safety.secrets import Vault, mask_secrets
from deskhand.tools.imaging import EncodedImage
from deskhand.tools.results import ToolResult

WITHHELD = (
    "The screenshot was withheld: it could not be checked for secret values. Take another "
    "screenshot in a moment."
)


@dataclass(frozen=True)
class Inspection:
    result: ToolResult
    verdict: Verdict | None  # None when nothing was screened


class ResultInspector:
    def __init__(self, vault: Vault, *, screening: bool = True) -> None:
        self.vault = vault
        self.screening = screening
        self.screener = Screener()

    async def inspect(self, result: ToolResult, *, text_source: bool) -> Inspection:
        """`text_source`: the output is program output (bash, editor) worth screening."""
        verdicts: list[Verdict] = []
        if result.image is not None:
            result, verdict = await self._inspect_image(result, result.image)
            verdicts.extend([verdict] if verdict else [])
        if self.screening and text_source:
            text = "\n".join(t for t in (result.output, result.error) if t)
            if text:
                verdicts.append(screen_text(text, "output"))
        hits = [v for v in verdicts if v.hit]
        if hits:
            result = replace(result, notes=(*result.notes, *(warning_for(v) for v in hits)))
        worst = max(verdicts, key=lambda v: (v.hit, v.score), default=None)
        return Inspection(result, worst)

    async def _inspect_image(
        self, result: ToolResult, image: EncodedImage
    ) -> tuple[ToolResult, Verdict | None]:
        verdict = await self.screener.ascreen(image.data) if self.screening else None
        if not self.vault:
            return result, verdict
        try:
            lines = self.screener.lines_of(image.data) if self.screening else None
            masked = await asyncio.to_thread(mask_secrets, image.data, self.vault.values, lines)
        except Exception:  # OCR failed: the image may show a secret, so it does not go out
            return replace(result, image=None, notes=(*result.notes, WITHHELD)), verdict
        if masked is not image.data:
            result = replace(result, image=replace(image, data=masked))
        return result, verdict
