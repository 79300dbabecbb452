"""XRootD remote outputs for b2core: b2luigi's XRootDSystem and XRootDTarget."""

from b2core_xrootd.system import XRootDSystem, XRootDTarget

__all__ = ["XRootDSystem", "XRootDTarget"]
