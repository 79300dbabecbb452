"""requires / inherits like luigi.util's, plus fixed keyword values and dropped parameters."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any


def _copy_parameters(target: type, sources: tuple[type, ...], skip: Collection[str]) -> None:
    for source in sources:
        for name, parameter in source.get_params():
            if name not in skip and not hasattr(target, name):
                setattr(target, name, parameter)


def inherits(*tasks: type, without: str | Collection[str] | None = None, **_ignored: Any) -> Callable[[type], type]:
    """Copy the parameters of `tasks` (except `without`) and add clone_parent()/clone_parents().

    Other keywords are ignored, as b2luigi's inherits does.
    """
    dropped = {without} if isinstance(without, str) else set(without or ())

    def decorate(cls: type) -> type:
        _copy_parameters(cls, tasks, dropped)

        def clone_parents(self: Any, **kwargs: Any) -> list[Any]:
            return [self.clone(task, **kwargs) for task in tasks]

        def clone_parent(self: Any, **kwargs: Any) -> Any:
            return self.clone(tasks[0], **kwargs)

        cls.clone_parents = clone_parents
        cls.clone_parent = clone_parent
        return cls

    return decorate


def requires(*tasks: type, **fixed: Any) -> Callable[[type], type]:
    """Depend on `tasks` with this task's parameters, some fixed by keyword: @requires(A, year=2024)."""

    def decorate(cls: type) -> type:
        _copy_parameters(cls, tasks, fixed)
        previous = cls.requires

        def requires_(self: Any) -> Any:
            yield from _as_iterable(previous(self))
            clones = [self.clone(task, **fixed) for task in tasks]
            yield clones[0] if len(clones) == 1 else clones

        cls.requires = requires_
        return cls

    return decorate


def _as_iterable(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, dict):
        return list(value.values())
    try:
        return list(value)
    except TypeError:
        return [value]
