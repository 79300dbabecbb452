"""Support for the `b2luigi` import package of b2core-b2luigi, which replaces b2luigi in an environment."""

from __future__ import annotations

import importlib.metadata

from b2core.errors import B2CoreError


class ConflictingInstallationError(B2CoreError, ImportError):
    """b2core-b2luigi and the real b2luigi are installed together; both own the `b2luigi` package."""


def refuse_real_b2luigi() -> None:
    """Stop at import when the real b2luigi is installed too: its files and ours would overwrite each other."""
    try:
        real = importlib.metadata.distribution("b2luigi")
    except importlib.metadata.PackageNotFoundError:
        return
    raise ConflictingInstallationError(
        f"b2luigi {real.version} is installed next to b2core-b2luigi (at {real.locate_file('')}); both provide the "
        "`b2luigi` package, so which one you get is an accident. b2core-b2luigi is installed instead of b2luigi, "
        "never beside it: run `pip uninstall b2luigi` and then `pip install --force-reinstall b2core-b2luigi`."
    )


class MissingPluginError(B2CoreError, ImportError):
    """A b2luigi module whose names a b2core plugin implements was imported without that plugin."""


def require_plugin(package: str, distribution: str, module: str) -> None:
    """Stop the import of a b2luigi module with the pip command when the plugin implementing it is missing."""
    try:
        importlib.import_module(package)
    except ModuleNotFoundError as error:
        if error.name != package:
            raise
        raise MissingPluginError(
            f"{module} is implemented by the plugin {distribution}, which is not installed: pip install {distribution}"
        ) from None
