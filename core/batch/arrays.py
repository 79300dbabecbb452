"""Shared by backends that submit job arrays: one script that runs the task of the array index."""

from __future__ import annotations

import secrets
import shlex
import stat
import time
from collections.abc import Sequence
from pathlib import Path

from b2core.batch.backend import JobSpec
from b2core.paths import map_folder
from b2core.settings import get_setting


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
    path = folder / "array.sh"
    path.write_text("\n".join(lines))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
