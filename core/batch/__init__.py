"""The batch engine shared by every backend: wrapper scripts, job records, bulk submit and poll."""
