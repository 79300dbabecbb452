"""Shared by backends that submit job arrays: one script that runs the task of the array index, and
the way back from a submitted script to its tasks (finding submissions a crash left unrecorded)."""

from __future__ import annotations

import json
import re
import secrets
import shlex
import stat
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from b2core.batch.backend import JobSpec
from b2core.batch.wrapper import this_workflow
from b2core.paths import map_folder
from b2core.settings import get_setting

ARRAY_SCRIPT = "array.sh"


def submission_dir(backend: str) -> Path:
    """A fresh folder for one bulk submission's files (array script, submit file, batch logs)."""
    base = Path(map_folder(get_setting("task_file_dir"))) / ".submissions"
    folder = base / f"{backend}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_array_script(specs: Sequence[JobSpec], index_variable: str, folder: Path, first_index: int = 0) -> Path:
    """Write array.sh: element `first_index + i` runs specs[i]'s wrapper with that task's own logs."""
    lines = [
        "#!/usr/bin/env bash",
        "# Written by b2core: one job array element runs one task.",
        f'case "${{{index_variable}}}" in',
    ]
    for offset, spec in enumerate(specs):
        wrapper, out, err = (shlex.quote(str(p)) for p in (spec.wrapper, spec.stdout, spec.stderr))
        lines.append(f"    {first_index + offset}) exec {wrapper} >{out} 2>{err} ;;")
    lines += [
        f'    *) echo "b2core: no task for array index ${{{index_variable}}}" >&2; exit 3 ;;',
        "esac",
        "",
    ]
    path = folder / ARRAY_SCRIPT
    path.write_text("\n".join(lines))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


_ARRAY_LINE = re.compile(r"^\s+(\d+)\) exec (.+?) >")


def find_lost_submissions(
    submissions: Sequence[tuple[str, int]], jobs: Iterable[tuple[str, Path, int | None]]
) -> dict[tuple[str, int], str]:
    """A backend's find(): which of the batch system's unfinished (job id, submitted script, array index)
    run the lost (task_id, attempt) submissions; a later job of the same task wins."""
    wanted = dict(submissions)
    workflow = this_workflow()
    arrays: dict[Path, dict[int, str]] = {}
    found: dict[tuple[str, int], str] = {}
    for job_id, script, index in jobs:
        task_id = _task_of_submitted_script(script, index, workflow, arrays)
        if task_id is not None and task_id in wanted:
            found[(task_id, wanted[task_id])] = job_id
    return found


def _task_of_submitted_script(
    script: Path, index: int | None, workflow: str, arrays: dict[Path, dict[int, str]]
) -> str | None:
    """The task id a submitted script (array element `index`, or a single task's script) runs, if it is
    one of `workflow`'s; `arrays` keeps each array script's wrappers by index, read once per script.

    Single tasks are submitted from their task file folder, arrays from a submission folder holding
    array.sh; either way the wrapper's folder has the task.json the core wrote before submitting, which
    names the workflow: a job of another workflow (another log_dir) is never taken for this one's.
    """
    folder = script.parent
    wrapper = folder / "executable_wrapper.sh"
    if index is not None:
        if folder not in arrays:
            try:
                lines = (folder / ARRAY_SCRIPT).read_text().splitlines()
            except OSError:
                lines = []
            arrays[folder] = {int(m.group(1)): m.group(2) for m in map(_ARRAY_LINE.match, lines) if m}
        if index not in arrays[folder]:
            return None
        wrapper = Path(shlex.split(arrays[folder][index])[0])
    try:
        spec = json.loads((wrapper.parent / "task.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(spec, dict) or spec.get("workflow") != workflow:
        return None  # another workflow's job: its tasks may have the same ids
    return spec.get("task_id")


def index_ranges(indices: Iterable[int]) -> list[tuple[int, int]]:
    """Array indices as sorted (first, last) runs, for cancel commands that take `ID[1-3,7]`-like ranges."""
    ranges: list[list[int]] = []
    for index in sorted(set(indices)):
        if ranges and index == ranges[-1][1] + 1:
            ranges[-1][1] = index
        else:
            ranges.append([index, index])
    return [(first, last) for first, last in ranges]
