"""b2core-example-backend: a tiny third-party batch plugin for b2core's tests (and a template for authors).

Importing this package imports nothing else: the backend class is loaded by b2core (stevedore) only
when a task asks for ``batch_system = "example"``.
"""

__version__ = "0.1.0"
