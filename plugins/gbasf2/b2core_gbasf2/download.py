"""Downloading a finished project: job logs, and each output dataset verified before it is moved into place.

Each ROOT output of a task becomes a folder ``<result>/<name>.root/`` holding the grid files
``<stem>_*.root``. They are downloaded into ``<name>.root.partial/`` first, compared with the
dataset's listing (``gb2_ds_list``, newest reschedule of each job only), and only then moved.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import tempfile
from pathlib import Path

from b2core.errors import B2CoreError

from b2core_gbasf2.grid import GridSession, split_all_extensions, unique_lfns

logger = logging.getLogger("b2core.gbasf2")

DOWNLOAD_ATTEMPTS = 3
FINAL_FOLDER = "__complete__"


class DownloadError(B2CoreError, RuntimeError):
    """A dataset could not be downloaded completely; nothing was moved into place."""


def download_logs(session: GridSession, project: str, log_dir: Path) -> Path | None:
    """gb2_job_output for the whole project into <log_dir>/gbasf2_logs/<project>/ (replacing older logs)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    target = log_dir / "gbasf2_logs" / project
    with tempfile.TemporaryDirectory(dir=log_dir, prefix=".gbasf2_logs_download_") as scratch:
        result = session.run(["gb2_job_output", "-p", project, *session.group_options()], cwd=scratch, check=False)
        downloaded = Path(scratch) / "log" / project
        if result.returncode != 0 or not downloaded.is_dir():
            logger.warning("Could not download the logs of gbasf2 project %s: %s", project, result.stdout[-500:])
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(downloaded), str(target))
    return target


def dataset_query(dataset_lpn: str, output_name: str) -> str:
    """The LFN wildcard of one output's files: <dataset>/sub*/<stem>_*<extensions>."""
    stem, extensions = split_all_extensions(output_name)
    return f"{dataset_lpn}/sub*/{stem}_*{extensions}"


def download_output(session: GridSession, dataset_lpn: str, output_path: str, extra_params: str, log: Path) -> int:
    """Download, verify and move one output folder; returns the number of files, raises DownloadError."""
    name = os.path.basename(output_path.rstrip("/"))
    query = dataset_query(dataset_lpn, name)
    expected = unique_lfns(session.list_lfns(query))
    if not expected:
        raise DownloadError(f"the dataset {dataset_lpn} holds no files for the output {name} ({query})")
    partial = Path(output_path.rstrip("/") + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(partial / FINAL_FOLDER, ignore_errors=True)
    failed_list = partial / "failed_files.txt"
    retry_list = partial / "failed_files_old.txt"
    missing = list(expected)
    for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
        failed_list.unlink(missing_ok=True)
        argv = ["gb2_ds_get", *shlex.split(extra_params), "--force", query, "--failed_lfns", str(failed_list)]
        if attempt > 1:
            retry_list.write_text("\n".join(missing) + "\n")
            argv += ["--input_dslist", str(retry_list)]
        result = session.run([*argv, *session.group_options()], cwd=partial)
        _append(log, f"$ {' '.join(argv)}\n{result.stdout}")
        if "No file found" in result.stdout:
            raise DownloadError(f"gb2_ds_get found no files for {query}")
        present = _downloaded_files(partial)
        missing = [lfn for lfn in expected if os.path.basename(lfn) not in present]
        if not missing:
            break
        logger.warning("%d file(s) of %s missing after download attempt %d", len(missing), name, attempt)
    else:
        raise DownloadError(
            f"{len(missing)} of {len(expected)} files of {query} could not be downloaded after {DOWNLOAD_ATTEMPTS} "
            f"attempts (kept in {partial}): {', '.join(missing[:5])}"
        )
    present = _downloaded_files(partial)
    complete = partial / FINAL_FOLDER
    complete.mkdir()
    for lfn in expected:
        shutil.move(str(present[os.path.basename(lfn)]), str(complete / os.path.basename(lfn)))
    final = Path(output_path)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.is_dir() and not final.is_symlink():
        shutil.rmtree(final)
    elif final.exists():
        final.unlink()
    os.rename(complete, final)
    shutil.rmtree(partial, ignore_errors=True)
    return len(expected)


def _downloaded_files(partial: Path) -> dict[str, Path]:
    """Files gb2_ds_get left below the partial folder, by name (it writes <dataset>/subXX/<file>)."""
    found = {}
    for path in partial.rglob("*"):
        own = path.name in ("failed_files.txt", "failed_files_old.txt")
        if path.is_file() and not own and FINAL_FOLDER not in path.relative_to(partial).parts:
            found[path.name] = path
    return found


def _append(log: Path, text: str) -> None:
    """Add command output to the task's stdout log, so what happened stays readable afterwards."""
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
    except OSError:
        pass
