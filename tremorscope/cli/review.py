"""Review commands: ``report``, ``note``, ``notes``, ``export`` and ``reanalyze``.

Thin click wrappers around :mod:`tremorscope.review.report`, :mod:`tremorscope.review.diary`,
the exports (:func:`tremorscope.exports.export`: CSV, EDF+ or BIDS-Motion) and
:mod:`tremorscope.reanalysis`. Found by :mod:`tremorscope.cli.group` through :data:`COMMANDS`.
Errors are one line on stderr with a non-zero exit; long work shows a progress bar on a
terminal.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path

import click

from tremorscope import tables
from tremorscope.cli.helpers import (
    CliError,
    Progress,
    db_option,
    finish_run,
    load_config,
    open_store,
    parse_session,
)
from tremorscope.exports import EXPORTERS, ExportError
from tremorscope.exports import export as export_log
from tremorscope.review.diary import (
    DIARY_KINDS,
    OUTSIDE_RECORDINGS,
    add_note,
    covering_session,
    describe_day,
    list_notes,
    notes_table,
    recorded_spans,
)
from tremorscope.review.report import ReportError, build_report, parse_date


@click.command("report")
@db_option
@click.option("--session", "session", default=None, help="One session (id or 'latest') [default: all].")
@click.option("--from", "date_from", default=None, metavar="DATE", help="First day, YYYY-MM-DD.")
@click.option("--to", "date_to", default=None, metavar="DATE", help="Last day, YYYY-MM-DD (inclusive).")
@click.option("--out", "out", required=True, metavar="REPORT.html", help="HTML file to write.")
def report(db: str | None, session: str | None, date_from: str | None, date_to: str | None, out: str) -> None:
    """Write a self-contained HTML report for clinicians (opens offline, prints).

    Covers one session, the days from --from to --to, or (by default) every session that is
    not a re-analysis.
    """
    d0 = parse_date(date_from, "--from")
    d1 = parse_date(date_to, "--to")
    with open_store(db, create=False) as store:
        sid = parse_session(session, store)
        with Progress("report") as progress:
            try:
                path = build_report(
                    store, out, session_id=sid, date_from=d0, date_to=d1, progress=progress.update
                )
            except ReportError as e:
                raise CliError(str(e)) from None
    click.echo(f"wrote {path}")


@click.command("note")
@click.argument("text")
@db_option
@click.option(
    "--kind",
    type=click.Choice(DIARY_KINDS, case_sensitive=False),
    default="other",
    show_default=True,
    help="What the entry is about.",
)
@click.option(
    "--at", "at", default=None, metavar="TIME", help="When: HH:MM, 'yesterday HH:MM', ISO time, 30m, 2h."
)
def note(text: str, db: str | None, kind: str, at: str | None) -> None:
    """Add a diary entry (medication, botox, DBS change, stress, fatigue, sleep or other).

    Example: tremorscope note "levodopa 100 mg" --kind medication --at 08:00
    """
    with open_store(db) as store:
        entry = add_note(store, text, kind.lower(), at)
        covered = covering_session(recorded_spans(store), entry.at)
    click.echo(
        f"noted #{entry.id} at {entry.at.strftime('%Y-%m-%d %H:%M %z')} ({describe_day(entry.at)}; "
        f"{entry.kind}): {entry.text}"
    )
    if covered is None:
        click.echo(f"no recording covers that time: the report and diary.csv list it as {OUTSIDE_RECORDINGS}")
    else:
        click.echo(f"during session {covered}")


@click.command("notes")
@db_option
@click.option("--from", "date_from", default=None, metavar="DATE", help="First day, YYYY-MM-DD.")
@click.option("--to", "date_to", default=None, metavar="DATE", help="Last day, YYYY-MM-DD (inclusive).")
@click.option(
    "--kind", type=click.Choice(DIARY_KINDS, case_sensitive=False), default=None, help="Only this kind."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True
)
def notes(db: str | None, date_from: str | None, date_to: str | None, kind: str | None, fmt: str) -> None:
    """List diary entries (oldest first)."""
    d0 = parse_date(date_from, "--from")
    d1 = parse_date(date_to, "--to")
    start = datetime.combine(d0, time()).astimezone() if d0 else None
    end = datetime.combine(d1 + timedelta(days=1), time()).astimezone() if d1 else None
    with open_store(db, create=False) as store:
        entries = list_notes(store, start, end)
    if kind:
        entries = [e for e in entries if e.kind == kind.lower()]
    if fmt == "table":
        click.echo(notes_table(entries))
        return
    records = [{"id": e.id, "at": e.at.isoformat(), "kind": e.kind, "text": e.text} for e in entries]
    if fmt == "json":
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
        return
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["id", "at", "kind", "text"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    click.echo(buf.getvalue(), nl=False)


@click.command("export")
@click.argument("out")
@db_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(EXPORTERS)),
    required=True,
    help="csv: tables and raw samples; edf: EDF+ per session; bids: a BIDS-Motion dataset.",
)
@click.option("--session", "session", default=None, help="One session (id or 'latest') [default: all].")
@click.option("--subject", default="01", show_default=True, help="BIDS participant label.")
@click.option("--force", is_flag=True, help="Replace files that already exist.")
def export(out: str, db: str | None, fmt: str, session: str | None, subject: str, force: bool) -> None:
    """Export the log to OUT.

    OUT is a folder for csv and bids (default file names inside). For edf, OUT ending in .edf
    writes that one file (one session); a folder gets session-N.edf per session. A name with
    any other suffix (out/x.txt) is refused rather than made into a folder.
    """
    options = {"subject": subject} if fmt == "bids" else {}
    with open_store(db, create=False) as store:
        sid = parse_session(session, store)
        with Progress(f"export {fmt}") as progress:
            try:
                paths = export_log(
                    store, fmt, out, session_id=sid, progress=progress.update, force=force, **options
                )
            except ExportError as e:
                raise CliError(str(e)) from None
    click.echo(f"wrote {len(paths)} file(s) to {Path(out)}")
    for p in paths:
        click.echo(f"  {p}")


@click.command("reanalyze")
@db_option
@click.option("--session", "session", required=True, help="Session id (or 'latest') to re-analyse.")
@click.option(
    "--config",
    "config_path",
    metavar="FILE.json",
    default=None,
    help='Settings to change, a JSON object such as {"min_rms_g": 0.008} (the rest stay as the '
    "session had them); `tremorscope settings` lists every setting with its unit and default.",
)
def reanalyze(db: str | None, session: str, config_path: str | None) -> None:
    """Re-run the current detector over a session's stored raw samples into a new, linked session.

    The earlier results are kept: compare them with `tremorscope episodes --session ID`.
    """
    from tremorscope.reanalysis import compare, comparison_text
    from tremorscope.reanalysis import reanalyze as run_reanalysis

    overrides = None
    if config_path is not None:
        load_config(config_path)  # one-line errors for a missing file, bad JSON or unknown settings
        overrides = json.loads(Path(config_path).read_text(encoding="utf-8"))
    with open_store(db, create=False) as store:
        sid = parse_session(session, store)
        assert sid is not None
        with Progress(f"re-analysing session {sid}") as progress:
            result = run_reanalysis(store, sid, overrides=overrides, on_progress=progress.update)
        length = tables.format_elapsed(result.duration_s)
        click.echo(
            f"session {result.session_id} ({result.status}): re-analysis of session {sid}, "
            f"{result.episodes} episodes, {result.samples} samples ({length})"
        )
        click.echo(comparison_text(compare(store, sid), compare(store, result.session_id)))
        click.echo(f"next: tremorscope episodes --session {result.session_id}")
    finish_run(result)


COMMANDS = [report, note, notes, export, reanalyze]
