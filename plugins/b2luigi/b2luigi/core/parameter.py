"""b2luigi.core.parameter: the parameter extras."""

from b2core.parameters import BoolParameter, wrap_parameter

__all__ = ["BoolParameter", "wrap_parameter"]
