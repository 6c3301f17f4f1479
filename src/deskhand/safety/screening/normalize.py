"""Text normalisation before the injection rules see it.

Attackers hide instructions from rules with invisible characters (zero-width, bidi controls,
Unicode "tag" characters that smuggle ASCII), compatibility forms (fullwidth, mathematical
letters) and lookalike letters from other scripts ("іgnоrе" with Cyrillic і and о). The
normaliser undoes all of that so that one set of rules sees one spelling:

1. NFKC (fullwidth, ligatures, mathematical alphanumerics become plain letters);
2. invisible and formatting characters are removed (category Cf, variation selectors, the
   combining grapheme joiner, Hangul fillers);
3. confusable folding: a word that mixes Latin letters with Cyrillic/Greek lookalikes, or a
   word of four or more letters made only of lookalikes, is spelled in Latin (a plain Russian
   or Greek word keeps its script, so the Russian rules still match it);
4. whitespace is collapsed: runs that hold a line break become one newline (rules can anchor
   on a line's start, like a fake "SYSTEM:" line), other runs one space; a space or line
   break between two CJK characters (OCR spacing, wrapped lines) is removed.

The steps repeat until nothing changes, so `normalise(normalise(t)) == normalise(t)`.
"""

from __future__ import annotations

import re
import unicodedata

# Cyrillic and Greek letters that look like Latin ones (a conservative subset of Unicode's
# confusables.txt: only shapes that are indistinguishable in common UI fonts).
_CONFUSABLES: dict[str, str] = {
    # Cyrillic lower case
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x",
    "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ӏ": "l", "һ": "h", "ԛ": "q", "ԝ": "w",
    # Cyrillic upper case
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Ԛ": "Q",
    "Ԝ": "W", "Ӏ": "I",
    # Greek
    "α": "a", "ο": "o", "ν": "v", "ι": "i", "κ": "k", "ρ": "p", "τ": "t", "υ": "u",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}  # fmt: skip
_FOLD_TABLE = str.maketrans(_CONFUSABLES)
_CONFUSABLE_SET = frozenset(_CONFUSABLES)

# Unicode tag characters (U+E0000..U+E007F) mirror ASCII and render as nothing.
_TAG_FIRST, _TAG_LAST = 0xE0000, 0xE007F

_WORD = re.compile(r"[^\W\d_]+")
_SPACE = re.compile(r"[^\S\n]+")
_NEWLINES = re.compile(r" ?\n[\s]*")
_CJK = (
    r"\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    r"\uf900-\ufaff\uff00-\uffef"
)
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])[ \n](?=[{_CJK}])")
_LATIN = re.compile(r"[A-Za-z]")


def _invisible(char: str) -> bool:
    code = ord(char)
    if _TAG_FIRST <= code <= _TAG_LAST:
        return True
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:  # variation selectors
        return True
    if char in "\u034f\u115f\u1160\u3164\uffa0":  # grapheme joiner, Hangul fillers
        return True
    return unicodedata.category(char) == "Cf"  # ZW(N)J, ZWSP, bidi controls, soft hyphen...


def hidden_tag_text(text: str) -> str:
    """The ASCII that Unicode tag characters in `text` spell ("ASCII smuggling"), if any."""
    return "".join(
        chr(ord(c) - _TAG_FIRST) for c in text if _TAG_FIRST + 0x20 <= ord(c) <= _TAG_FIRST + 0x7E
    )


def _fold_word(match: re.Match[str]) -> str:
    word = match.group(0)
    lookalikes = sum(1 for c in word if c in _CONFUSABLE_SET)
    if lookalikes == 0:
        return word
    mixed = _LATIN.search(word) is not None
    if mixed or (lookalikes == len(word) and len(word) >= 4):
        return word.translate(_FOLD_TABLE)
    return word


def _step(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if not _invisible(c))
    text = unicodedata.normalize("NFKC", text)
    text = _WORD.sub(_fold_word, text)
    text = _NEWLINES.sub("\n", _SPACE.sub(" ", text)).strip()
    return _CJK_GAP.sub("", text)


def normalise(text: str) -> str:
    """The canonical form the rules match (see the module docstring); idempotent."""
    for _ in range(8):
        nxt = _step(text)
        if nxt == text:
            return nxt
        text = nxt
    return text
