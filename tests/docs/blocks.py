"""The fenced code blocks of the README and of docs/, with the docs-test marker before each (see test_examples)."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
RUNNABLE = {"python", "bash", "sh", "shell"}
DIRECTIVES = {"skip", "file", "needs", "exit", "checkout", "venv", "empty-venv"}
_FENCE = re.compile(r"^(?P<indent>[ ]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ ]*$", re.M | re.S)
_MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<words>.*?)\s*-->\s*$")


@dataclass
class Block:
    """One fenced block: where it is, its language and text, and what its marker asks for."""

    page: str
    line: int
    lang: str
    text: str
    directives: dict[str, str] = field(default_factory=dict)

    @property
    def runnable(self) -> bool:
        """Run by the test: a bash or Python block not marked skip and not only saved as a file."""
        return self.lang in RUNNABLE and "skip" not in self.directives and "file" not in self.directives

    def __str__(self) -> str:
        return f"{self.page}:{self.line} ({self.lang})"


def pages() -> list[str]:
    """README.md and every Markdown page below docs/, as paths relative to the checkout."""
    found = [CHECKOUT / "README.md", *sorted((CHECKOUT / "docs").rglob("*.md"))]
    return [str(path.relative_to(CHECKOUT)) for path in found]


def blocks(page: str) -> list[Block]:
    """Every fenced block of a page, in order, with the directives of the marker right before it."""
    text = (CHECKOUT / page).read_text()
    found = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.match(before)
        directives = parse_directives(marker.group("words"), page) if marker else {}
        body = textwrap.dedent(match.group("body")) if match.group("indent") else match.group("body")
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(page, line, match.group("lang"), body, directives))
    return found


def parse_directives(words: str, page: str) -> dict[str, str]:
    """'skip REASON', 'file NAME', 'needs slurm', 'exit N', 'checkout', 'venv', 'empty-venv'; ';' separates
    them, except after skip, whose reason is the rest of the marker."""
    if words.startswith("skip"):
        return {"skip": words[len("skip") :].strip()}
    directives = {}
    for part in filter(None, (p.strip() for p in words.split(";"))):
        name, _, argument = part.partition(" ")
        if name not in DIRECTIVES:
            raise ValueError(f"{page}: unknown docs-test directive {name!r} in <!-- docs-test: {words} -->")
        directives[name] = argument.strip()
    return directives
