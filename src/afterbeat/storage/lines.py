"""Bounded reading of text files: lines and tokens of capped size, whatever the file holds.

A file with no newline (or one enormous line) must not be read into memory whole: lines
longer than the cap are skipped in chunks and reported as ``None``, and RR tokens are read in
fixed-size chunks, so memory stays bounded by the useful content.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final, TextIO

__all__ = ["CHUNK_CHARS", "MAX_LINE_CHARS", "MAX_TOKEN_CHARS", "bounded_lines", "text_tokens"]

MAX_LINE_CHARS: Final = 1_048_576
"""Longest line (characters) read from a session or CSV file; longer lines are skipped."""
MAX_TOKEN_CHARS: Final = 64
"""Longest RR value token (characters) in plain RR text; longer tokens are skipped."""
CHUNK_CHARS: Final = 65_536
"""Characters read at a time while skipping an overlong line or tokenising RR text."""
_TOKEN: Final = re.compile(r"[^\s,;]+")
_SEPARATOR: Final = re.compile(r"[\s,;]")


def bounded_lines(handle: TextIO, max_chars: int = MAX_LINE_CHARS, first_line: int = 1
                  ) -> Iterator[tuple[int, str | None]]:
    """(line number, line) pairs; an overlong line is consumed in chunks and given as None."""
    number = first_line - 1
    while True:
        line = handle.readline(max_chars + 1)
        if not line:
            return
        number += 1
        if line.endswith("\n") or len(line) <= max_chars:  # whole (at most max_chars + "\n")
            yield number, line
            continue
        while True:  # skip the rest of the overlong line without keeping it
            rest = handle.readline(CHUNK_CHARS)
            if not rest or rest.endswith("\n"):
                break
        yield number, None


def text_tokens(handle: TextIO, first_line: int = 1, max_token: int = MAX_TOKEN_CHARS
                ) -> Iterator[tuple[int, str]]:
    """(line number, token) pairs of text separated by whitespace, commas or semicolons.

    Lines may be of any length; memory holds one chunk. A token longer than ``max_token``
    comes out cut to ``max_token + 1`` characters (so callers can tell and report it); the
    rest of it is dropped unread.
    """
    number = first_line
    carry = ""
    dropping = False
    while chunk := handle.read(CHUNK_CHARS):
        if dropping:  # the middle of an overlong token: skip to the next separator
            separator = _SEPARATOR.search(chunk)
            if separator is None:
                continue
            chunk = chunk[separator.start():]
            dropping = False
        text = carry + chunk
        carry = ""
        position = 0
        for match in _TOKEN.finditer(text):
            number += text.count("\n", position, match.start())
            position = match.start()
            token = match.group()
            if match.end() == len(text):  # may continue in the next chunk
                if len(token) > max_token:
                    yield number, token[: max_token + 1]
                    dropping = True
                else:
                    carry = token
                break
            yield number, token[: max_token + 1]
        number += text.count("\n", position)
    if carry:
        yield number, carry
