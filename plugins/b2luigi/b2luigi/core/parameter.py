"""b2luigi.core.parameter: the parameter extras."""

from b2core.parameters import BatchIntParameter, BoolParameter, wrap_parameter

__all__ = ["BatchIntParameter", "BoolParameter", "wrap_parameter"]
