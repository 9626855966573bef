"""The "not blank" pattern means the same to the server (Python ``re``) and to a client that
validates with the OpenAPI document (ECMA-262 regular expressions).

Regression: schemathesis sent a post title of two U+001F characters. Its validator (ECMA ``\\S``)
took it for a valid title; the server's ``\\S`` (Python counts U+001C–U+001F as space) refused it.
"""

from __future__ import annotations

import re

from entrypoints.http.schemas import NOT_BLANK

# ECMA-262 WhiteSpace and LineTerminator: TAB VT FF SP NBSP ZWNBSP, the Zs category, LF CR LS PS
ECMA_SPACE = {"\t", "\v", "\f", " ", "\xa0", "\ufeff", "\n", "\r", "\u2028", "\u2029"} | {
    "\u1680",
    *(chr(c) for c in range(0x2000, 0x200B)),
    "\u202f",
    "\u205f",
    "\u3000",
}


def blank_to_python(value: str) -> bool:
    return value.strip() == ""


def test_every_character_python_or_ecma_call_space_is_refused_alone() -> None:
    pattern = re.compile(NOT_BLANK)
    for char in sorted({chr(c) for c in range(0x110000) if chr(c).isspace()} | ECMA_SPACE):
        assert pattern.search(char) is None, hex(ord(char))
        assert pattern.search(char * 3) is None, hex(ord(char))


def test_a_visible_character_anywhere_is_enough() -> None:
    pattern = re.compile(NOT_BLANK)
    for value in ("a", " a ", "\x1f\x1fz", "\ufeffé", "\u3000日本"):
        assert pattern.search(value) is not None, value
        assert not blank_to_python(value.replace("\ufeff", ""))


def test_the_character_schemathesis_found_is_blank_on_both_sides() -> None:
    assert blank_to_python("\x1f\x1f")
    assert re.search(NOT_BLANK, "\x1f\x1f") is None
