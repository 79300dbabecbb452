"""Which basf2 release is set up here, asked only when needed (importing basf2 is slow and may be impossible)."""

from __future__ import annotations

import functools
import os
import warnings

NOT_SET = "not_set"


def basf2_release() -> str | None:
    """$BELLE2_RELEASE, else (unset or "head") the version the basf2 module reports; None without basf2."""
    release = os.environ.get("BELLE2_RELEASE", "")
    if release and release != "head":
        return release
    return _version_of_basf2_module()


@functools.cache
def _version_of_basf2_module() -> str | None:
    """Imported once per process; without basf2 one ImportWarning (b2luigi's category), not one per task."""
    try:
        from basf2 import version
    except ImportError:
        warnings.warn(
            "No basf2 release is set up (no BELLE2_RELEASE, no basf2 module): Basf2Task.git_hash is 'not_set'",
            ImportWarning,
            stacklevel=2,
        )
        return None
    return str(version.get_version())


def get_basf2_git_hash() -> str:
    """The release (or git hash of a head build) basf2 tasks record; "not_set" without basf2."""
    return basf2_release() or NOT_SET
