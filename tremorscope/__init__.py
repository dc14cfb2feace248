"""tremorscope: the application (CLI, session runner, SQLite episode log, reports)."""

__version__ = "0.1.0"
