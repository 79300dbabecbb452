"""luigi's parameter types with b2luigi's extra keywords: ``hashed``, ``hash_function``, ``hidden``.

Instead of patching ``luigi.Parameter`` globally (as b2luigi does), each luigi parameter class gets
a subclass here with the same name, so plain luigi tasks in the same process are untouched.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from typing import Any

import luigi
import luigi.parameter


def default_hash(value: Any) -> str:
    """Hash b2luigi-compatibly: md5 of str() of luigi's normalised value, so existing folders stay valid."""
    return "hashed_" + hashlib.md5(str(value).encode()).hexdigest()


class HashableParameterMixin:
    """Adds hashed folder names and hidden parameters to a luigi parameter class."""

    def __init__(
        self,
        *args: Any,
        hashed: bool = False,
        hash_function: Callable[[Any], str] | None = None,
        hidden: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if hash_function is not None and len(inspect.signature(hash_function).parameters) != 1:
            raise ValueError("hash_function must take exactly one argument (the parameter value)")
        self.hashed = hashed or hash_function is not None
        self.hash_function = hash_function or default_hash
        if hidden is None:
            hidden = not self.significant
        if not hidden and not self.significant:
            raise ValueError("A parameter with significant=False is always hidden; hidden=False contradicts it")
        self.hidden = hidden

    def serialize_for_path(self, value: Any) -> str:
        """The text of this value in output folder names: hashed if asked, luigi's serialisation else."""
        if self.hashed:
            return self.hash_function(value)
        return self.serialize(value)


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
globals().update(PARAMETER_TYPES)


def serialize_for_path(parameter: luigi.Parameter, value: Any) -> str:
    """Serialise any parameter (ours or plain luigi's) for a folder name."""
    if isinstance(parameter, HashableParameterMixin):
        return parameter.serialize_for_path(value)
    return parameter.serialize(value)


def is_hidden(parameter: luigi.Parameter) -> bool:
    """Hidden parameters stay in the task id but not in result or log paths."""
    return getattr(parameter, "hidden", not parameter.significant)
