"""Stand-ins for gbasf2 (Belle II's DIRAC client) used by b2core's tests; see ../FORMATS.md."""
