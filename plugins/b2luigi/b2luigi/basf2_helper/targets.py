"""b2luigi.basf2_helper.targets: the ROOT file target (from b2core-basf2)."""

from b2core_basf2.targets import ROOTLocalTarget

__all__ = ["ROOTLocalTarget"]
