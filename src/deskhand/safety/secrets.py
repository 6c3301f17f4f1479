"""Named credentials the model can type without ever seeing them.

The model writes placeholders such as `{{secret:github_password}}` in the computer tool's `type`
action; the host replaces them with the values just before the keystrokes go to the guest. The
values come from a 0600 TOML or JSON file and/or `DESKHAND_SECRET_<NAME>` environment variables,
and never appear in a tool result, an event, the conversation or a log: the model's tool input
(with the placeholder) is what gets recorded, and every value is on the run's redaction list.

Why the host substitutes and not the guest: the guest lives inside the sandbox, next to a shell
the model controls. Sending it the vault would expose every secret to that shell; substituting
on the host sends one value, only when it is typed, inside the input request that presses its
keys (the guest daemon is non-dumpable, and the value reaches the screen there anyway).

Placeholders anywhere else are refused: in a bash command the value would land in the shell's
history, in `ps` and in the command's output (`placeholder_refusal`).
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from deskhand.safety.screening.ocr import OcrLine

ENV_PREFIX: Final = "DESKHAND_SECRET_"
FILE_ENV: Final = "DESKHAND_SECRETS_FILE"
DEFAULT_FILE: Final = "secrets.toml"
MIN_VALUE_CHARS: Final = 4  # shorter values would redact ordinary text all over the records
MAX_NAME_CHARS: Final = 64
NAME_RE: Final = re.compile(r"[a-z0-9_]{1,64}")
# Anything shaped like a placeholder, even with a bad name, so a typo is reported, not typed.
PLACEHOLDER_RE: Final = re.compile(r"\{\{\s*secret\s*:([^{}]{0,100})\}\}")
BASH_REFUSAL: Final = (
    "This command contains a secret placeholder ({{secret:...}}). Secrets may only be typed with"
    " the computer tool's type action (for example into a password field): in a shell command"
    " the value would be stored in the shell history and could appear in the output. Nothing"
    " was run."
)


class SecretError(Exception):
    """A problem with the vault or a placeholder; `message` never contains a secret value."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VaultFileError(SecretError):
    """The secrets file cannot be used (missing, readable by others, malformed)."""


class UnknownSecretError(SecretError):
    """Text refers to secrets the vault does not hold (or to badly formed names)."""

    def __init__(self, message: str, names: Iterable[str]) -> None:
        super().__init__(message)
        self.names = tuple(names)


@dataclass(frozen=True)
class Placeholder:
    """One `{{secret:NAME}}` in a text, at text[start:end]; `valid` tells if NAME is well formed."""

    name: str
    start: int
    end: int

    @property
    def valid(self) -> bool:
        return NAME_RE.fullmatch(self.name) is not None


def placeholder(name: str) -> str:
    return "{{secret:" + name + "}}"


def find_placeholders(text: str) -> list[Placeholder]:
    """Every placeholder-shaped piece of `text`, in order (including unknown or bad names)."""
    return [
        Placeholder(m.group(1).strip(), m.start(), m.end()) for m in PLACEHOLDER_RE.finditer(text)
    ]


def has_placeholders(text: str) -> bool:
    return PLACEHOLDER_RE.search(text) is not None


def placeholder_refusal(command: str) -> str | None:
    """The error to return for a shell command that contains a placeholder, else None."""
    return BASH_REFUSAL if has_placeholders(command) else None


class Vault:
    """Named secrets. `repr` and `str` never show values."""

    def __init__(self, secrets: Mapping[str, str] | None = None, *, source: str = "") -> None:
        self._secrets: dict[str, str] = {}
        self.source = source
        for name, value in (secrets or {}).items():
            self._secrets[_check_name(name, source)] = _check_value(name, value, source)

    @classmethod
    def load(cls, path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Vault:
        """Secrets from `path` (TOML or JSON, mode 0600) and `DESKHAND_SECRET_<NAME>` variables
        of `env` (default: os.environ); the environment wins when both name a secret.

        Without `path`: `$DESKHAND_SECRETS_FILE` if set (it must exist), else
        `$DESKHAND_HOME/secrets.toml` if it exists.
        """
        env = os.environ if env is None else env
        explicit = path is not None or bool(env.get(FILE_ENV))
        file = Path(path) if path is not None else _default_file(env)
        found: dict[str, str] = {}
        sources: list[str] = []
        if file is not None and (explicit or file.exists()):
            found.update(read_secrets_file(file))
            sources.append(str(file))
        from_env = {
            key[len(ENV_PREFIX) :].lower(): value
            for key, value in env.items()
            if key.startswith(ENV_PREFIX)
        }
        if from_env:
            sources.append(f"${ENV_PREFIX}*")
        for name, value in from_env.items():
            _check_name(name, f"${ENV_PREFIX}{name.upper()}")
            found[name] = value
        return cls(found, source=" + ".join(sources))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._secrets))

    @property
    def values(self) -> tuple[str, ...]:
        """Every value (for the run record's redaction list); longest first."""
        return tuple(sorted(set(self._secrets.values()), key=len, reverse=True))

    def __contains__(self, name: object) -> bool:
        return name in self._secrets

    def __len__(self) -> int:
        return len(self._secrets)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __repr__(self) -> str:
        return f"Vault(names={list(self.names)!r})"

    __str__ = __repr__

    def placeholder(self, name: str) -> str:
        """The text the model writes to type secret `name`."""
        if name not in self._secrets:
            raise UnknownSecretError(f"no secret named {name!r}", [name])
        return placeholder(name)

    def find_placeholders(self, text: str) -> list[Placeholder]:
        return find_placeholders(text)

    def resolve(self, text: str) -> str:
        """`text` with every placeholder replaced by its value.

        Raises UnknownSecretError (naming the unknown names and the available ones, never a
        value) when any placeholder names a secret the vault lacks: then nothing is typed.
        """
        found = find_placeholders(text)
        unknown = [p.name for p in found if p.name not in self._secrets]
        if unknown:
            raise UnknownSecretError(self._unknown_message(unknown), unknown)
        parts: list[str] = []
        at = 0
        for item in found:
            parts += [text[at : item.start], self._secrets[item.name]]
            at = item.end
        parts.append(text[at:])
        return "".join(parts)

    def _unknown_message(self, unknown: list[str]) -> str:
        shown = ", ".join(sorted({placeholder(name) for name in unknown}))
        if self._secrets:
            available = ", ".join(placeholder(name) for name in self.names)
            return f"Unknown secret {shown}; available: {available}. Nothing was typed."
        return f"Unknown secret {shown}: no secrets are configured. Nothing was typed."

    def mask(self, text: str) -> str:
        """`text` with each value replaced by its placeholder (for anything shown or stored)."""
        for name, value in sorted(self._secrets.items(), key=lambda kv: -len(kv[1])):
            text = text.replace(value, placeholder(name))
        return text

    def describe_for_prompt(self) -> str:
        """A short paragraph for the system prompt: the placeholder names, never the values."""
        if not self._secrets:
            return ""
        listed = "\n".join(f"- {placeholder(name)}" for name in self.names)
        return (
            "Credentials are available as placeholders. To enter one, use the computer tool's"
            " type action with the placeholder as the text (e.g. click the password field, then"
            f" type {placeholder(self.names[0])}); deskhand types the real value. You never see"
            " the values, and placeholders work only in the type action, not in shell commands"
            f" or files.\n{listed}"
        )


def read_secrets_file(path: Path) -> dict[str, str]:
    """The name -> value table of a secrets file (TOML, or JSON for a `.json` name).

    The file must be a regular file owned by this user and readable by no one else (0600 or
    stricter); it is checked on the open descriptor, so a swap between check and read is moot.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise VaultFileError(f"secrets file {path} does not exist") from None
    except OSError as exc:
        raise VaultFileError(f"cannot open secrets file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise VaultFileError(f"secrets file {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise VaultFileError(
                f"secrets file {path} can be read or changed by other users (mode {mode:04o});"
                f" refusing to use it. Run: chmod 600 {path}"
            )
        if info.st_uid != os.geteuid():
            raise VaultFileError(
                f"secrets file {path} belongs to uid {info.st_uid}, not to this user"
                f" ({os.geteuid()}); refusing to use it"
            )
        data = file.read(1_000_001)
    if len(data) > 1_000_000:
        raise VaultFileError(f"secrets file {path} is larger than 1 MB")
    try:
        text = data.decode("utf-8")
        table: object = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        # The parsers' messages quote the offending line, which may hold a value: keep the place.
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise VaultFileError(f"secrets file {path} is not valid {kind}{where}") from None
    if not isinstance(table, dict):
        raise VaultFileError(f"secrets file {path} must hold a table of name = value")
    out: dict[str, str] = {}
    for name, value in table.items():
        if not isinstance(value, str):
            raise VaultFileError(f"secret {name!r} in {path} is not a string")
        out[_check_name(name, str(path))] = value
    return out


def _default_file(env: Mapping[str, str]) -> Path | None:
    if named := env.get(FILE_ENV):
        return Path(named).expanduser()
    if home := env.get("DESKHAND_HOME"):
        return Path(home) / DEFAULT_FILE
    data = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "deskhand" / DEFAULT_FILE


def _check_name(name: str, source: str) -> str:
    if not isinstance(name, str) or NAME_RE.fullmatch(name) is None:
        raise SecretError(
            f"bad secret name {str(name)[:MAX_NAME_CHARS]!r} in {source or 'the vault'}: names are"
            f" 1 to {MAX_NAME_CHARS} characters of a-z, 0-9 and _"
        )
    return name


def _check_value(name: str, value: str, source: str) -> str:
    where = f"secret {name!r}" + (f" (from {source})" if source else "")
    if not isinstance(value, str) or not value:
        raise SecretError(f"{where} is empty")
    if len(value) < MIN_VALUE_CHARS:
        raise SecretError(
            f"{where} is shorter than {MIN_VALUE_CHARS} characters: it could not be redacted"
            " from the run records without hiding ordinary text"
        )
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cs"):  # a tab or newline would press a key
            raise SecretError(
                f"{where} contains a control character (U+{ord(ch):04X}) that cannot be typed"
            )
    return value


# -- screenshots -------------------------------------------------------------------------------

MASK_MARGIN_PX: Final = 3


def mask_secrets(
    image: bytes, values: Iterable[str], lines: Sequence[OcrLine] | None = None
) -> bytes:
    """The screenshot with every OCR text line that shows one of `values` blacked out.

    `image` is an encoded screenshot (PNG, JPEG or WebP); the result keeps its format. OCR
    misreads characters, so a line matches when it contains the value (spaces and case ignored)
    with up to one misread character in six. The whole line's box is masked. When nothing
    matches, the same bytes come back (so a screenshot's hash does not change). Blocking and
    CPU-bound (about a second per screen): call it through `asyncio.to_thread` on an event loop.
    `lines`: the image's OCR lines when the caller already has them (no second OCR).
    Raises `deskhand.safety.screening.ocr.OcrUnavailable` when OCR cannot run.
    """
    import io

    from PIL import Image, ImageDraw

    from deskhand.safety.screening import ocr

    wanted = [_squash(v) for v in values if len(_squash(v)) >= MIN_VALUE_CHARS]
    if not wanted:
        return image
    boxes = [
        line.box
        for line in (ocr.read_text(image) if lines is None else lines)
        if any(_contains_nearly(_squash(line.text), value) for value in wanted)
    ]
    if not boxes:
        return image
    with Image.open(io.BytesIO(image)) as decoded:
        form = decoded.format or "PNG"
        picture = decoded.convert("RGBA" if form == "PNG" else "RGB")
    draw = ImageDraw.Draw(picture)
    for x0, y0, x1, y1 in boxes:
        m = MASK_MARGIN_PX
        draw.rectangle((x0 - m, y0 - m, x1 + m, y1 + m), fill="black")
    out = io.BytesIO()
    if form in ("JPEG", "WEBP"):
        picture.save(out, format=form, quality=90)
    else:
        picture.save(out, format=form)
    return out.getvalue()


def _squash(text: str) -> str:
    return "".join(text.split()).casefold()


def _contains_nearly(line: str, value: str) -> bool:
    """Whether some substring of `line` is within len(value)//6 edits of `value` (Sellers)."""
    if value in line:
        return True
    budget = len(value) // 6
    if budget == 0 or len(line) < len(value) - budget:
        return False
    # column[i] = fewest edits matching value[:i] against a substring of line ending here.
    column = list(range(len(value) + 1))
    for ch in line:
        previous_diagonal, column[0] = column[0], 0
        for i in range(1, len(value) + 1):
            cost = previous_diagonal + (value[i - 1] != ch)
            previous_diagonal = column[i]
            column[i] = min(cost, column[i] + 1, column[i - 1] + 1)
        if column[-1] <= budget:
            return True
    return False
