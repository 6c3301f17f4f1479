"""`python -m deskhand.web` runs `deskhand serve` (the same options)."""

import typer

from deskhand.web.cli import serve_command

if __name__ == "__main__":
    typer.run(serve_command)
