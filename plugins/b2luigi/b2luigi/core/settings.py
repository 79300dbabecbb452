"""b2luigi.core.settings: the settings functions."""

from b2core.settings import clear_setting, get_setting, set_setting, with_new_settings

__all__ = ["clear_setting", "get_setting", "set_setting", "with_new_settings"]
