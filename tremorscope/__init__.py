"""tremorscope: the application (CLI, session runner, SQLite episode log, reports)."""

from tremorscope.first_run import announce_core_compilation

__version__ = "0.1.0"

announce_core_compilation()
