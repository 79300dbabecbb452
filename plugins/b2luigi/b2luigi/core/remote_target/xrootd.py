"""b2luigi.core.remote_target.xrootd: XRootD outputs, from b2core-xrootd (pip install b2core-xrootd)."""

from b2core_xrootd import XRootDSystem, XRootDTarget

__all__ = ["XRootDSystem", "XRootDTarget"]
