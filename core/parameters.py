"""luigi's parameter types with b2luigi's extra keywords: ``hashed``, ``hash_function``, ``hidden``,
``grouping``, ``grouping_function`` (tasks differing only in grouped parameters share a batch job).

Instead of patching ``luigi.Parameter`` globally (as b2luigi does), each luigi parameter class gets
a subclass here with the same name, so plain luigi tasks in the same process are untouched. Only
the `b2luigi` package of b2core-b2luigi patches luigi (wrap_parameter), as b2luigi's import did.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable
from typing import Any

import luigi
import luigi.parameter


def default_hash(value: Any) -> str:
    """Hash b2luigi-compatibly: md5 of str() of luigi's normalised value, so existing folders stay valid."""
    return "hashed_" + hashlib.md5(str(value).encode()).hexdigest()


def default_grouping(values: tuple[Any, ...]) -> str:
    """b2luigi's folder name for the values of a group: grouped_1_2_3, or grouped_<md5> past 25 characters
    (the md5 of the sorted values, so the same group always gets the same folder)."""
    texts = sorted(str(value) for value in values)
    name = "grouped_" + "_".join(texts)
    return name if len(name) <= 25 else "grouped_" + hashlib.md5(str(tuple(texts)).encode()).hexdigest()


def add_grouping_options(
    parameter: luigi.Parameter, grouping: bool = False, grouping_function: Callable[[Any], str] | None = None
) -> None:
    """Mark a parameter as grouped: tasks differing only in it may share a batch job (b2luigi's grouping)."""
    if grouping_function is not None and len(inspect.signature(grouping_function).parameters) != 1:
        raise ValueError("grouping_function must take exactly one argument (the parameter value)")
    parameter.grouping = grouping or grouping_function is not None
    parameter.grouping_function = grouping_function or default_grouping


def add_path_options(
    parameter: luigi.Parameter,
    hashed: bool = False,
    hash_function: Callable[[Any], str] | None = None,
    hidden: bool | None = None,
) -> None:
    """Give a parameter b2luigi's folder-name options; a hashed one gets serialize_hashed(value)."""
    if hash_function is not None and len(inspect.signature(hash_function).parameters) != 1:
        raise ValueError("hash_function must take exactly one argument (the parameter value)")
    parameter.hashed = hashed or hash_function is not None
    parameter.hash_function = hash_function or default_hash
    if parameter.hashed:
        parameter.serialize_hashed = parameter.hash_function
    else:
        parameter.__dict__.pop("serialize_hashed", None)
    if hidden is None:
        hidden = not parameter.significant
    if not hidden and not parameter.significant:
        raise ValueError("A parameter with significant=False is always hidden; hidden=False contradicts it")
    parameter.hidden = hidden


class HashableParameterMixin:
    """Adds hashed folder names and hidden parameters to a luigi parameter class."""

    required_without_default = False  # luigi's BoolParameter falls back to False; b2luigi's does not

    def __init__(
        self,
        *args: Any,
        hashed: bool = False,
        hash_function: Callable[[Any], str] | None = None,
        hidden: bool | None = None,
        grouping: bool = False,
        grouping_function: Callable[[tuple[Any, ...]], str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        add_path_options(self, hashed, hash_function, hidden)
        add_grouping_options(self, grouping, grouping_function)
        if self.required_without_default and not args and "default" not in kwargs:
            self._default = luigi.parameter._no_value


def _parameter_classes() -> dict[str, type]:
    classes = {}
    for name in dir(luigi.parameter):
        cls = getattr(luigi.parameter, name)
        if inspect.isclass(cls) and issubclass(cls, luigi.parameter.Parameter) and name.endswith("Parameter"):
            classes[name] = cls
    return classes


PARAMETER_TYPES: dict[str, type] = {
    name: type(name, (HashableParameterMixin, base), {"__module__": __name__, "__doc__": base.__doc__})
    for name, base in _parameter_classes().items()
}


class BoolParameter(PARAMETER_TYPES["BoolParameter"]):
    """luigi's BoolParameter, but required unless given a default (as in b2luigi): no silent False."""

    required_without_default = True


PARAMETER_TYPES["BoolParameter"] = BoolParameter
globals().update(PARAMETER_TYPES)


def serialize_for_path(parameter: luigi.Parameter, value: Any) -> str:
    """Serialise any parameter (ours or plain luigi's) for a folder name: hashed if asked, luigi's text else."""
    if getattr(parameter, "hashed", False):
        return parameter.serialize_hashed(value)
    return parameter.serialize(value)


def is_hidden(parameter: luigi.Parameter) -> bool:
    """Hidden parameters stay in the task id but not in result or log paths."""
    return getattr(parameter, "hidden", not parameter.significant)


def wrap_parameter() -> None:
    """Let plain luigi parameters take b2luigi's path and grouping keywords, as its import does (idempotent).

    This changes luigi.Parameter for the whole process, so b2core only does it where b2luigi did:
    importing the `b2luigi` package of b2core-b2luigi calls it; ``import b2core`` does not.
    """
    original = luigi.Parameter.__init__
    if getattr(original, "_b2core_wrapped", False):
        return

    @functools.wraps(original)
    def __init__(self: luigi.Parameter, *args: Any, **kwargs: Any) -> None:
        options = {name: kwargs.pop(name) for name in ("hashed", "hash_function", "hidden") if name in kwargs}
        grouping = {name: kwargs.pop(name) for name in ("grouping", "grouping_function") if name in kwargs}
        original(self, *args, **kwargs)
        add_path_options(self, **options)
        add_grouping_options(self, **grouping)

    __init__._b2core_wrapped = True
    luigi.Parameter.__init__ = __init__


class BatchIntParameter(PARAMETER_TYPES["IntParameter"]):  # type: ignore[misc,valid-type]
    """An IntParameter meant for grouping, as b2luigi's: luigi's summary does not fold its values into ranges."""

    def next_in_enumeration(self, value: Any) -> None:
        """No successor: the execution summary lists the values instead of a range."""
        return None
