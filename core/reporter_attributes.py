"""The status-reporter callbacks luigi's worker puts on a task while it runs (``set_tracking_url``,
``set_progress_percentage``, ...), kept outside the task's ``__dict__``.

luigi's task process sets five attributes on every task it runs and leaves them as None afterwards;
two of them are new keys, which turns each instance's shared-key dict into a private one of about
400 bytes. As data descriptors on b2core.Task they read and write exactly as luigi's attributes do,
but a value is held only while it is not None, that is, while the task runs.
"""

from __future__ import annotations

from typing import Any

# id(task) -> (task, {attribute name: value}); an entry lives while some attribute is not None
_values: dict[int, tuple[Any, dict[str, Any]]] = {}


class ReporterAttribute:
    """A task attribute that luigi's worker sets while the task runs; None otherwise."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, task: Any, owner: type | None = None) -> Any:
        if task is None:
            return self
        entry = _values.get(id(task))
        return None if entry is None else entry[1].get(self.name)

    def __set__(self, task: Any, value: Any) -> None:
        entry = _values.get(id(task))
        if value is not None:
            if entry is None:
                entry = _values[id(task)] = (task, {})
            entry[1][self.name] = value
        elif entry is not None:
            entry[1].pop(self.name, None)
            if not entry[1]:
                del _values[id(task)]


class Forwarded:
    """luigi's forwarding of the status reporter's callbacks to a running b2core task, as one dict entry
    set on entry and dropped on exit (luigi sets and resets each attribute on its own, twice per task)."""

    def __init__(self, task: Any, values: dict[str, Any]) -> None:
        self.task = task
        self.values = {name: value for name, value in values.items() if value is not None}

    def __enter__(self) -> Forwarded:
        _values[id(self.task)] = (self.task, self.values)
        return self

    def __exit__(self, *exc: Any) -> None:
        _values.pop(id(self.task), None)


def held_by_descriptors(task_class: type, names: Any) -> bool:
    """True when every one of these attributes of the class is a ReporterAttribute (so Forwarded can set them)."""
    return all(isinstance(getattr(task_class, name, None), ReporterAttribute) for name in names)
