"""b2core-htcondor: run b2core tasks as HTCondor jobs, many per condor_submit."""

__version__ = "0.1.0"
