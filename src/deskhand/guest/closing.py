"""`with`-statement support for the guest's X resources, written once."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """A resource released by `close()`, also usable as a context manager."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
