"""Output targets remembered per task while a worker runs: luigi asks a task for output() many times.

luigi's worker calls ``output()`` of a leaf task about four times (``complete()`` when scheduling,
creating the output folders, ``get_output_file_name`` in ``run()``, ``input()`` of the task that
requires it), and each call resolves settings and builds paths. While a b2core worker runs (from
its ``__enter__`` to its ``__exit__``), :func:`remembered_target` computes the target of one
``add_to_output`` call once per task; a task's output paths are fixed for the run, as luigi treats
targets. The settings that name outputs (:data:`OUTPUT_SETTINGS`) are fixed for the run too
(``b2core.settings.fixed_settings``), unless a task or its class sets its own: each lookup that
reaches the settings files costs a ``getcwd`` and a poll of the settings watch. So are the settings
plugins name through the ``b2core_run_settings`` hook (the Apptainer image, read for every task). Outside a worker
(steering code, jobs, tests) every call computes afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from b2core.settings import fixed_settings

#: the settings an output's path and target class come from
OUTPUT_SETTINGS = (
    "result_dir",
    "parameter_separator",
    "use_parameter_name_in_output",
    "default_task_target_class",
    "target_class_kwargs",
)

_memo: dict[tuple[Any, ...], Any] | None = None


@contextmanager
def remembering_outputs(run_settings: Iterable[str] = ()) -> Iterator[None]:
    """Remember output targets, and fix the settings that name them and `run_settings`, until the block
    ends (nested blocks share the outer memo)."""
    global _memo
    if _memo is not None:
        yield
        return
    _memo = {}
    try:
        with fixed_settings((*OUTPUT_SETTINGS, *run_settings)):
            yield
    finally:
        _memo = None


def remembered_target(key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    """The target for key, made once while outputs are remembered."""
    if _memo is None:
        return make()
    target = _memo.get(key)
    if target is None:
        target = _memo[key] = make()
    return target
