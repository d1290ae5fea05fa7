"""The ``reward-service`` command: serve, score rollouts offline or remotely, re-score a
record, draw a report, benchmark."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress

from reward_service.client import RewardClient, RewardServiceError
from reward_service.engine import BatchItem, open_batch_scorer
from reward_service.settings import ServiceSettings, settings_errors

if TYPE_CHECKING:
    from reward_service.record import Record
    from reward_service.record.rescore import RescoreSummary, StepSummary

app = typer.Typer(help="Multi-signal math rewards as a service.", no_args_is_help=True)
console = Console(stderr=True)


def _settings(**overrides: Any) -> ServiceSettings:
    """The settings from the environment and ``overrides``; invalid ones end the command
    with one line each (exit code 2), not a traceback."""
    try:
        return ServiceSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for line in settings_errors(exc):
            console.print(f"[red]error:[/red] {line}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    workers: Annotated[int | None, typer.Option(help="Scoring processes.")] = None,
) -> None:
    """Run the HTTP service (settings from REWARD_SERVICE_* variables, then these options)."""
    import logging

    import uvicorn

    from reward_service.app import create_app

    settings = _settings(host=host, port=port, workers=workers)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=settings.shutdown_grace_s,
    )


def _read_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise typer.BadParameter(f"{path}:{number}: not JSON ({exc})") from None
        if not isinstance(row, dict) or "response" not in row or "ground_truth" not in row:
            raise typer.BadParameter(f"{path}:{number}: needs 'response' and 'ground_truth'")
        rows.append(row)
    return rows


def _item(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("response", "ground_truth", "data_source", "extra_info")
    return {key: row[key] for key in keys if row.get(key) is not None}


async def _score_rows(
    rows: list[dict[str, Any]],
    url: str | None,
    batch_size: int,
    token: str | None,
    on_batch: Callable[[list[dict[str, Any]]], None],
    retries: int = 5,
) -> None:
    """Score ``rows`` in batches, locally in a process pool or on the service at ``url``."""
    batches = [rows[start : start + batch_size] for start in range(0, len(rows), batch_size)]
    if url:
        async with RewardClient(url, api_token=token, retries=retries) as client:
            for batch in batches:
                on_batch(await client.score([_item(row) for row in batch]))
        return
    async with open_batch_scorer(_settings()) as scorer:
        for batch in batches:
            items = [
                BatchItem(row["response"], str(row["ground_truth"]), row.get("extra_info"))
                for row in batch
            ]
            on_batch([result.to_dict() for result in (await scorer.score(items)).results])


@app.command()
def score(
    rollouts: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            metavar="ROLLOUTS_FILE",
            help="JSONL rows, each a /score item.",
        ),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", metavar="JSONL", help="Where scored rows go.")
    ] = Path("scored.jsonl"),
    url: Annotated[str | None, typer.Option(help="Score on this service, not locally.")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 4096,
    token: Annotated[str | None, typer.Option(envvar="REWARD_SERVICE_API_TOKEN")] = None,
    retries: Annotated[int, typer.Option(min=0, help="Retries of a failed request.")] = 5,
) -> None:
    """Score a JSONL file of {response, ground_truth, ...} rows; each row gains the result.

    The output is written to a temporary file beside ``--output`` and renamed over it only
    once every row is scored: a failure leaves an existing file as it was.
    """
    rows = _read_rows(rollouts)
    done = 0
    partial = output.with_name(f".{output.name}.partial")
    try:
        with Progress(console=console) as progress, partial.open("wb") as sink:
            task = progress.add_task("scoring", total=len(rows))

            def write(results: list[dict[str, Any]]) -> None:
                nonlocal done
                for row, result in zip(rows[done : done + len(results)], results, strict=True):
                    sink.write(orjson.dumps({**row, **result}) + b"\n")
                done += len(results)
                progress.update(task, advance=len(results))

            asyncio.run(_score_rows(rows, url, batch_size, token, write, retries))
    except RewardServiceError as exc:
        partial.unlink(missing_ok=True)
        console.print(f"[red]error:[/red] {exc}; {output} was not changed")
        raise typer.Exit(code=1) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(output)
    console.print(f"scored {done} rows -> {output}")


@app.command()
def report(
    stats: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            metavar="STATS_FILE",
            help="The service's statistics file: the JSONL that REWARD_SERVICE_STATS_FILE names.",
        ),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", metavar="PNG", help="The picture to write.")
    ] = Path("report.png"),
) -> None:
    """Draw the dashboard's panels and the alarms for every step in STATS_FILE as one PNG
    (alarm settings from REWARD_SERVICE_ALARM_* variables)."""
    from reward_service.stats.report import write_report

    alarm_settings = _settings().alarm_settings()
    try:
        write_report(
            stats,
            output,
            on_bad_line=lambda line: console.print(f"[yellow]{line}"),
            alarm_settings=alarm_settings,
        )
    except (ValueError, RuntimeError) as exc:
        raise typer.BadParameter(str(exc)) from None
    console.print(f"report -> {output}")


@app.command()
def rescore(
    record_dirs: Annotated[
        list[Path],
        typer.Argument(
            metavar="RECORD_DIR...",
            help="The record (REWARD_SERVICE_RECORD_DIR): one folder, or one per node.",
        ),
    ],
    steps: Annotated[
        str | None,
        typer.Option(metavar="A:B", help="Only steps A to B-1 (A: from A on, :B up to B)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(metavar="DIFF.parquet", help="Write one row per changed item here."),
    ] = None,
) -> None:
    """Re-score a record with the installed scorer (settings from REWARD_SERVICE_*
    variables: workers, timeouts, limits), step by step, and say which rewards changed."""
    from reward_service.record import NotARecord, open_record
    from reward_service.record.render import print_summary
    from reward_service.record.rescore import parse_steps

    try:
        chosen = None if steps is None else parse_steps(steps)
        record = open_record(record_dirs)
    except (NotARecord, ValueError) as exc:
        _fail(str(exc), code=2)
    if out is not None and (problem := _unwritable_changes_file(out, record)):
        _fail(f"--out {out}: {problem}", code=2)
    held = record.held(chosen)
    if not held:
        within = "" if steps is None else f" in {steps}"
        _fail(f"the record holds no steps{within}", code=2)
    summary = _rescore_with_progress(record, held, out)
    print_summary(summary, Console(width=max(Console().width, 120)))
    if out is not None:
        console.print(f"{summary.changed:,} changed items -> {out}")


def _unwritable_changes_file(out: Path, record: Record) -> str | None:
    """Why the changes file cannot be written at ``out``, or None; checked before hours of
    re-scoring."""
    place = out.resolve()
    for folder in record.folders:
        if place.is_relative_to(folder.resolve()):
            return f"inside the record {folder}, whose readers would take it for the record's"
    if out.is_dir():
        return "is a folder; name a file"
    if not out.parent.is_dir():
        return f"{out.parent} is not a folder"
    return None


def _fail(message: str, code: int) -> NoReturn:
    """End the command with one line on stderr."""
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


def _rescore_with_progress(record: Record, steps: list[int], out: Path | None) -> RescoreSummary:
    """Re-score ``steps`` through a fresh pool of the service's settings, with a bar."""
    from reward_service.errors import PoolUnavailable
    from reward_service.record.rescore import rescore
    from reward_service.scoring import scorer_version

    settings = _settings()
    total = record.item_count(set(steps))

    async def run(advance: Callable[[StepSummary, int, int], None]) -> RescoreSummary:
        async with open_batch_scorer(settings) as scorer:
            return await rescore(record, scorer, scorer_version(), set(steps), out, advance)

    with Progress(console=console) as progress:
        task = progress.add_task(f"re-scoring {len(steps):,} steps", total=total)
        try:
            return asyncio.run(run(lambda step, done, _: progress.advance(task, step.items)))
        except (PoolUnavailable, OSError) as exc:
            _fail(f"re-scoring stopped: {exc}", code=1)


@app.command()
def settings() -> None:
    """Print every setting with its variable, default and meaning (Markdown)."""
    from reward_service.settings import settings_table

    typer.echo(settings_table())


@app.command()
def bench(
    items: Annotated[int, typer.Option(min=1, help="Responses in the synthetic step.")] = 4096,
    repeats: Annotated[int, typer.Option(min=1, help="Batches per measurement.")] = 3,
    naive_sample: Annotated[int, typer.Option(min=1, help="Items the naive loop scores.")] = 256,
    streaming_seconds: Annotated[
        float, typer.Option(min=0, help="Seconds per streaming row (0: skip that table).")
    ] = 15.0,
    streaming_rate: Annotated[
        float, typer.Option(min=1, help="Items/s of the paced streaming rows.")
    ] = 400.0,
    steps: Annotated[bool, typer.Option(help="Run the whole-step table.")] = True,
) -> None:
    """Benchmark the service over HTTP against verl's naive per-item loop, side by side:
    whole GRPO steps, then streaming traffic from 8 clients (verl's reward workers), both
    against the same naive loop."""
    from reward_service.bench.streaming import print_stream_table, run_streaming_benchmark
    from reward_service.bench.whole_step import print_table, run_benchmark

    wide = Console(width=150)  # tables stay readable when written to a file
    naive = None
    if steps:
        rows = run_benchmark(items, repeats, naive_sample)
        print_table(rows, wide)
        naive = rows[0]
    if streaming_seconds:
        workers = _settings().workers
        stream = run_streaming_benchmark(workers, streaming_seconds, streaming_rate, naive)
        print_stream_table(stream, wide)


if __name__ == "__main__":
    app()
