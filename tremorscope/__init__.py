"""tremorscope: the application (CLI, session runner, SQLite episode log, reports)."""

from tremorscope.first_run import announce_core_compilation

__version__ = "0.1.0"

announce_core_compilation()

from firmware_bridge.moved import install_moved  # noqa: E402

# Modules that moved into packages by job (issue 12); the old names warn for one release.
install_moved(
    {
        "tremorscope.cli_live": (
            "tremorscope.cli.live",
            "tremorscope.cli.live_helpers",
            "tremorscope.cli.setup",
        ),
        "tremorscope.cli_review": "tremorscope.cli.review",
        "tremorscope.report": (
            "tremorscope.review.report",
            "tremorscope.review.collect",
            "tremorscope.review.summaries",
            "tremorscope.review.sections",
            "tremorscope.review.tables",
            "tremorscope.review.html",
            "tremorscope.review.template",
        ),
        "tremorscope.report_plots": "tremorscope.review.plots",
        "tremorscope.diary": "tremorscope.review.diary",
        "tremorscope.export_csv": "tremorscope.exports.csv",
        "tremorscope.export_edf": "tremorscope.exports.edf",
        "tremorscope.export_bids": "tremorscope.exports.bids",
    }
)
