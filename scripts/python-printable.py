#!/usr/bin/env python3
"""Writes the table of the characters Python does not print (str.isprintable is False) into the
fragment "pyrepr: the characters Python does not print" of docs/libmessage.md.

Run from the project's root: python3 scripts/python-printable.py
"""
import re
import sys
import unicodedata
from pathlib import Path

NAME = "pyrepr: the characters Python does not print"


def ranges():
    """The ranges (first, last) of code points that Python does not print."""
    found, start = [], None
    for code in range(0x110000):
        printable = chr(code).isprintable()
        if not printable and start is None:
            start = code
        elif printable and start is not None:
            found.append((start, code - 1))
            start = None
    if start is not None:
        found.append((start, 0x10FFFF))
    return found


def fragment():
    found = ranges()
    lines = [
        f"/// The {len(found)} ranges of code points that Python's `str.isprintable` refuses, from Python",
        f"/// {sys.version_info[0]}.{sys.version_info[1]} (Unicode {unicodedata.unidata_version}); written by `scripts/python-printable.py`.",
        "#[rustfmt::skip]",
        "const NOT_PRINTABLE: &[(u32, u32)] = &[",
    ]
    for i in range(0, len(found), 6):
        row = ", ".join(f"(0x{a:x}, 0x{b:x})" for a, b in found[i : i + 6])
        lines.append(f"    {row},")
    lines.append("];")
    return "\n".join(lines) + "\n"


def main():
    chapter = Path("docs/libmessage.md")
    text = chapter.read_text()
    pattern = re.compile(r'(```rust name="' + re.escape(NAME) + r'"\n)(.*?)(```)', re.S)
    new, n = pattern.subn(lambda m: m.group(1) + fragment() + m.group(3), text)
    if n != 1:
        sys.exit(f"{chapter}: expected one fragment named {NAME!r}, found {n}")
    chapter.write_text(new)


if __name__ == "__main__":
    main()
