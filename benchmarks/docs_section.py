"""Where every benchmark writes its figures: each owns the part of docs/benchmarks.md between its markers,
so one benchmark's run never wipes another's."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
SECTION = re.compile(r"<!-- begin (?P<topic>[\w-]+) -->.*?<!-- end (?P=topic) -->", re.S)


def write_section(topic: str, body: str) -> None:
    """Replace the topic's section of the benchmarks page (appended the first time), leaving the rest."""
    begin, end = f"<!-- begin {topic} -->", f"<!-- end {topic} -->"
    section = f"{begin}\n{body.strip()}\n{end}"
    text = DOCS.read_text() if DOCS.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOCS.write_text(text)
    print(f"wrote the {topic} section of {DOCS}")


def marked_sections(text: str) -> str:
    """Every marked section of a page, so a rewrite of the page's own part can keep them."""
    return "\n\n".join(match.group(0) for match in SECTION.finditer(text))
