"""MkDocs hook: renders the settings reference from the pydantic settings models and includes benchmarks.md.

Markers in the pages are replaced while the site is built:

* ``<!-- b2core:settings all -->``: one table per settings model, the core's and each plugin's;
* ``<!-- b2core:settings NAME -->``: the table of one of them (``core``, ``slurm``, ``htcondor``, ...);
* ``<!-- b2core:include benchmarks.md -->``: that file's text if it exists, else a note that it does not.

The models are found the way a run finds them: the core's ``CoreSettings`` plus whatever each plugin's
``b2core_settings_models`` hook returns. A plugin that is not installed, or a field without a
description, fails the build, so the reference can neither miss a plugin nor a description.
"""

from __future__ import annotations

import re
import tempfile
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

# Where each model is documented, in this order; every one must be installed to build the docs.
DOCUMENTED = {
    "core": "b2core",
    "slurm": "b2core-slurm",
    "htcondor": "b2core-htcondor",
    "lsf": "b2core-lsf",
    "sge": "b2core-sge",
    "gbasf2": "b2core-gbasf2",
    "apptainer": "b2core-apptainer",
    "xrootd": "b2core-xrootd",
    "webdav": "b2core-webdav",
}
TITLES = {
    "core": "Core",
    "slurm": "Slurm",
    "htcondor": "HTCondor",
    "lsf": "LSF",
    "sge": "SGE",
    "gbasf2": "gbasf2",
    "apptainer": "Apptainer",
    "xrootd": "XRootD",
    "webdav": "WebDAV",
}
MARKER = re.compile(r"<!--\s*b2core:(settings|include)\s+([\w.-]+)\s*-->")
LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


@cache
def settings_models() -> dict[str, list[type]]:
    """Plugin name ('core' for the core) to the settings models it registers."""
    import pluggy
    from b2core import hookspecs
    from b2core.plugins import HOOK_GROUP
    from b2core.settings_models import CoreSettings

    manager = pluggy.PluginManager("b2core")
    manager.add_hookspecs(hookspecs)
    manager.load_setuptools_entrypoints(HOOK_GROUP)
    found: dict[str, list[type]] = {"core": [CoreSettings]}
    for impl in manager.hook.b2core_settings_models.get_hookimpls():
        models = impl.function()
        if models:
            found[impl.plugin_name] = list(models)
    missing = [f"{name} ({dist})" for name, dist in DOCUMENTED.items() if name not in found]
    if missing:
        raise PluginError(
            "The settings reference needs every plugin installed next to mkdocs; missing: "
            + ", ".join(missing)
            + " (pip install -e plugins/<name>)"
        )
    return found


def type_name(annotation: Any) -> str:
    """A readable type: `str | None`, `dict[str, int | str]`, `'site' | 'size'`."""
    if annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in args)
    if origin is typing.Literal:
        return " | ".join(repr(arg) for arg in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_name(arg) for arg in args)}]" if args else name
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def default_text(info: Any) -> str:
    """The default as Python would write it; the machine's temp folder is named, not shown."""
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, str) and value == tempfile.gettempdir():
        return "the system's temporary folder"
    return f"`{value!r}`"


def constraints(info: Any) -> str:
    """Bounds such as `>= 0` from the field's metadata."""
    words = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    found = []
    for item in info.metadata:
        for attr, sign in words.items():
            limit = getattr(item, attr, None)
            if limit is not None:
                found.append(f"{sign} {limit}")
    return ", ".join(found)


def cell(text: str) -> str:
    """Plain text safe inside a Markdown table cell; placeholders such as <key> outside code spans are
    escaped, or the browser would take them for HTML tags and show nothing."""
    parts = text.split("`")
    for index in range(0, len(parts), 2):  # even parts are outside backticks
        parts[index] = parts[index].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts).replace("|", "\\|").replace("\n", " ")


def model_table(model: type) -> str:
    """One Markdown table: setting, type, default, description, environment variable."""
    prefix = model.model_config.get("env_prefix", "")
    rows = [
        f"Model `{model.__module__}.{model.__name__}`.",
        "",
        "| setting | type | default | description | environment variable |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, info in model.model_fields.items():
        if not info.description:
            raise PluginError(f"{model.__name__}.{name} has no Field(description=...); the reference needs one")
        kind = type_name(info.annotation)
        bounds = constraints(info)
        kind = f"`{kind}`" + (f" ({bounds})" if bounds else "")  # a pipe inside backticks splits no cell
        env = f"`{prefix}{name.upper()}`" if prefix else ""
        rows.append(f"| `{name}` | {kind} | {default_text(info)} | {cell(info.description)} | {env} |")
    return "\n".join(rows)


def settings_section(name: str, heading: str = "") -> str:
    """The tables of one plugin (or the core), optionally under a heading."""
    models = settings_models()
    if name not in models:
        raise PluginError(f"No settings models of '{name}'; known: {', '.join(models)}")
    parts = [heading] if heading else []
    parts += [model_table(model) for model in models[name]]
    return "\n\n".join(parts)


def all_settings() -> str:
    """Every documented model under its own heading, then any other installed plugin's."""
    models = settings_models()
    names = list(DOCUMENTED) + sorted(set(models) - set(DOCUMENTED))
    return "\n\n".join(
        settings_section(name, f"## {TITLES.get(name, name)} ({DOCUMENTED.get(name, 'plugin ' + name)})")
        for name in names
    )


def include(name: str, page_file: Path, docs_dir: Path) -> str:
    """A generated Markdown file under this page's title instead of its own; links outside the site become code."""
    path = (page_file.parent / name).resolve()
    if not path.exists():
        return f"*`{name}` has not been generated yet; run `python benchmarks/run.py` to produce it.*"
    text = re.sub(r"\A\s*# [^\n]*\n", "", path.read_text())  # this page has its own title
    if re.search(r"^# ", text, flags=re.MULTILINE):  # more top-level headings: all go one level down
        text = re.sub(r"^(#{1,5}) ", r"#\1 ", text, flags=re.MULTILINE)

    def keep_or_flatten(match: re.Match[str]) -> str:
        label, target = match.groups()
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            return match.group(0)
        resolved = (path.parent / target.split("#")[0]).resolve()
        inside = resolved.is_relative_to(docs_dir.resolve()) and resolved.exists()
        return match.group(0) if inside else f"{label} (`{target}`)"

    return LINK.sub(keep_or_flatten, text)


def on_config(config: Any) -> Any:
    """Fail early, before any page is rendered, if a plugin or a description is missing."""
    for models in settings_models().values():
        for model in models:
            model_table(model)
    return config


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the markers of this page."""
    docs_dir = Path(config["docs_dir"])
    page_file = docs_dir / page.file.src_path

    def replace(match: re.Match[str]) -> str:
        kind, argument = match.groups()
        if kind == "include":
            return include(argument, page_file, docs_dir)
        return all_settings() if argument == "all" else settings_section(argument)

    return MARKER.sub(replace, markdown)
