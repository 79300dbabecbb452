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
