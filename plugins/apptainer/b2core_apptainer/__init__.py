"""b2core-apptainer: run a task's job inside an Apptainer (or Singularity) container.

It is a command wrapper, not a batch system: the ``b2core_wrap_command`` hook turns the job's
command into ``apptainer exec ... <image> /bin/bash -c '...'``, so it works with the local
backend (also without ``--batch``) and with every batch plugin alike.
"""

from b2core_apptainer.command import apptainer_command, uses_apptainer

__version__ = "0.1.0"
__all__ = ["apptainer_command", "uses_apptainer"]
