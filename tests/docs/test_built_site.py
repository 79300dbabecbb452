"""The built documentation shows every placeholder: a `<key>` left raw in Markdown is taken for an HTML tag
and disappears in the browser (the settings reference once showed `#SBATCH --=`)."""

from __future__ import annotations

import html.parser
import os
import subprocess
import sys
from pathlib import Path

import pytest
from blocks import CHECKOUT

#: every element a MkDocs page of this site legitimately contains
HTML_TAGS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "blockquote",
        "body",
        "br",
        "button",
        "caption",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "details",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "head",
        "header",
        "hr",
        "html",
        "i",
        "img",
        "input",
        "kbd",
        "label",
        "li",
        "link",
        "main",
        "meta",
        "nav",
        "noscript",
        "ol",
        "option",
        "p",
        "pre",
        "script",
        "section",
        "select",
        "small",
        "span",
        "strong",
        "style",
        "sub",
        "summary",
        "sup",
        "svg",
        "path",
        "table",
        "tbody",
        "td",
        "textarea",
        "tfoot",
        "th",
        "thead",
        "title",
        "tr",
        "u",
        "ul",
    ]
)


class TagCollector(html.parser.HTMLParser):
    """Collects the names of all start tags, with the line they are on."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, self.getpos()[0]))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site tox's docs env built (B2CORE_DOCS_SITE), else one built here with mkdocs --strict."""
    given = os.environ.get("B2CORE_DOCS_SITE")
    if given and (Path(given) / "index.html").exists():
        return Path(given)
    folder = tmp_path_factory.mktemp("site")
    build = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(folder)]
    result = subprocess.run(build, cwd=CHECKOUT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return folder


def test_no_page_swallows_a_placeholder(site: Path) -> None:
    """Every start tag in every built page is real HTML; `<key>`, `<value>`, `<path>` would not be."""
    pages = sorted(site.rglob("*.html"))
    assert any(page.name == "index.html" and page.parent.name == "settings-reference" for page in pages)
    unknown = []
    for page in pages:
        collector = TagCollector()
        collector.feed(page.read_text())
        unknown += [f"{page.relative_to(site)}:{line}: <{tag}>" for tag, line in collector.tags if tag not in HTML_TAGS]
    assert not unknown, "raw placeholders in the built site:\n" + "\n".join(unknown)


def test_the_settings_reference_shows_the_sbatch_line_in_full(site: Path) -> None:
    """The example of the issue: slurm_settings' description names '#SBATCH --<key>=<value>'."""
    text = (site / "settings-reference" / "index.html").read_text()
    assert "#SBATCH --&lt;key&gt;=&lt;value&gt;" in text
