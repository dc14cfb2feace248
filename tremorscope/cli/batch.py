"""``tremorscope batch``: a cohort of recordings on Dask (tremorscope.cohort)."""

from __future__ import annotations

import click

from tremorscope.cli.helpers import CliError, Progress, _one_line, load_config


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out", required=True, metavar="DIR", help="Output folder (resumable: rerun to go on).")
@click.option(
    "--scheduler", default=None, metavar="ADDRESS",
    help="A running Dask scheduler, e.g. tcp://10.0.0.5:8786 [default: a local cluster].",
)  # fmt: skip
@click.option("--workers", type=int, default=None, help="Local workers [default: one per core].")
@click.option(
    "--block-samples", type=int, default=None, metavar="N",
    help="Samples per block pushed to the detector; bounds memory, results do not depend on it "
    "[default: 360000, 1 h at 100 Hz].",
)  # fmt: skip
@click.option(
    "--task-blocks", type=int, default=None, metavar="N",
    help="Blocks per task of a long plain-CSV recording; the next task (any worker) takes the "
    "detector's state on, so results do not depend on it [default: 6].",
)  # fmt: skip
@click.option(
    "--config", "config_path", metavar="FILE.json", default=None,
    help="Detector settings as a JSON object (`tremorscope settings` lists them).",
)  # fmt: skip
def batch(
    inputs: tuple[str, ...], out: str, scheduler: str | None, workers: int | None,
    block_samples: int | None, task_blocks: int | None, config_path: str | None,
) -> None:  # fmt: skip
    """Analyse a cohort: every recording in INPUTS (files, folders, globs) into DIR.

    Reads our CSV, BIDS-Motion, raw captures (.jsonl), Axivity .cwa, GENEActiv .bin and ActiGraph
    .gt3x. Writes per recording its episodes, minute summaries and quality record
    (DIR/recordings/KEY/), and the cohort's tables as Parquet and CSV: quality (one row per
    recording, a bad file's one-line error included), episodes, and cohort (per person and
    day). Finished recordings are skipped on a rerun by content hash; a long CSV recording runs
    as a chain of tasks (--task-blocks) that hand the detector's state on.
    """
    try:
        from tremorscope.cohort import DEFAULT_BLOCK_SAMPLES, BatchError, run_batch
        from tremorscope.cohort.runner import DEFAULT_TASK_BLOCKS
    except ImportError as e:
        raise CliError(f"{e.name} is not installed; pip install 'tremorscope[cohort]'") from None
    if workers is not None and workers < 1:
        raise CliError(f"--workers {workers}: need at least 1")
    if block_samples is not None and block_samples < 1:
        raise CliError(f"--block-samples {block_samples}: need at least 1")
    if task_blocks is not None and task_blocks < 1:
        raise CliError(f"--task-blocks {task_blocks}: need at least 1")
    config = load_config(config_path)

    with Progress("batch") as progress:

        def on_start(link: str | None) -> None:
            where = scheduler or "a local cluster"
            click.echo(f"running on {where}" + (f"; dashboard: {link}" if link else ""), err=True)

        def on_progress(done: int, total: int) -> None:
            progress.update(done / total if total else 1.0)

        try:
            summary = run_batch(
                inputs, out, scheduler=scheduler, workers=workers, config=config,
                block_samples=block_samples or DEFAULT_BLOCK_SAMPLES, on_progress=on_progress,
                task_blocks=task_blocks or DEFAULT_TASK_BLOCKS,
                on_start=on_start,
            )  # fmt: skip
        except BatchError as e:
            raise CliError(_one_line(str(e))) from None
    progress.clear()
    for r in summary.results:
        q = r.quality
        if q.get("status") != "ok":
            click.echo(f"{q.get('status')}: {q.get('recording')}: {q.get('error')}", err=True)
    click.echo(
        f"{len(summary.results)} recordings: {summary.analysed} analysed, {summary.skipped} already done, "
        f"{summary.failed} failed"
    )
    for path in summary.tables.values():
        click.echo(f"wrote {path} (+ {path.with_suffix('.csv').name})")


COMMANDS = [batch]
