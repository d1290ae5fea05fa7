"""Build the pi1 training parquet and the MATH-500 validation parquet, or put the system
prompt into any verl-format parquet.

python -m trainer.data pi1 [--out data/train/one_shot_rlvr/pi1_r128.parquet]
python -m trainer.data math500 [--source PATH_OR_HUB_ID] [--out data/test/math500.parquet]
python -m trainer.data apply-prompt IN.parquet OUT.parquet
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from trainer.prompts import SYSTEM_PROMPT, chat_messages

PI1_PROBLEM = (
    "The pressure \\( P \\) exerted by wind on a sail varies jointly as the area \\( A \\) of the "
    "sail and the cube of the wind's velocity \\( V \\). When the velocity is \\( 8 \\) miles per "
    "hour, the pressure on a sail of \\( 2 \\) square feet is \\( 4 \\) pounds. Find the wind "
    "velocity when the pressure on \\( 4 \\) square feet of sail is \\( 32 \\) pounds."
)
"""pi1: DeepScaleR subset index 124, the One-Shot RLVR paper's training example."""

INSTRUCTION_SUFFIX = " Let's think step by step and output the final answer within \\boxed{}."
PI1_LABEL = "12.8"
"""The dataset's label. The exact answer is 8*cbrt(4) = 12.699...; the paper kept 12.8."""

PI1_INDEX = 124
PI1_ROWS = 128
DEFAULT_PI1_PATH = Path("data/train/one_shot_rlvr/pi1_r128.parquet")
MATH500_HUB_ID = "HuggingFaceH4/MATH-500"
"""MATH-500 (Lightman et al.'s 500-problem MATH test subset) on the Hugging Face hub."""
DEFAULT_MATH500_PATH = Path("data/test/math500.parquet")

cli = typer.Typer(help="Training data for verl, with the multi-signal system prompt.")


def pi1_rows(copies: int = PI1_ROWS) -> list[dict[str, Any]]:
    """``copies`` identical pi1 rows in verl's RL schema."""
    row = {
        "data_source": "deepscaler",
        "prompt": chat_messages(PI1_PROBLEM + INSTRUCTION_SUFFIX),
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": PI1_LABEL},
        "extra_info": {"index": PI1_INDEX, "split": "train"},
    }
    return [row] * copies


def with_system_prompt(prompt: list[dict[str, str]]) -> list[dict[str, str]]:
    """``prompt`` with the system turn set to :data:`SYSTEM_PROMPT` (replaced or added)."""
    turns = [dict(turn) for turn in prompt if turn.get("role") != "system"]
    return [{"role": "system", "content": SYSTEM_PROMPT}, *turns]


def write_parquet(rows: list[dict[str, Any]], path: Path) -> Path:
    """Write verl-schema ``rows`` to ``path`` (parent folders created)."""
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path


@cli.command("pi1")
def write_pi1(
    out: Annotated[Path, typer.Option(help="Where the parquet goes.")] = DEFAULT_PI1_PATH,
    copies: Annotated[int, typer.Option(min=1)] = PI1_ROWS,
) -> Path:
    """Write pi1 repeated ``copies`` times (data/train/one_shot_rlvr/pi1_r128.parquet)."""
    path = write_parquet(pi1_rows(copies), out)
    typer.echo(f"wrote {copies} rows to {path}")
    return path


def math500_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """verl RL rows, with the system prompt, from records with ``problem`` and ``answer``."""
    missing = {"problem", "answer"} - set(records[0]) if records else {"problem", "answer"}
    if missing:
        raise ValueError(f"MATH-500 records need 'problem' and 'answer'; missing {sorted(missing)}")
    return [
        {
            "data_source": MATH500_HUB_ID,
            "prompt": chat_messages(record["problem"] + INSTRUCTION_SUFFIX),
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": str(record["answer"])},
            "extra_info": {"index": index, "split": "test"},
        }
        for index, record in enumerate(records)
    ]


def read_records(source: str) -> list[dict[str, Any]]:
    """Records from a local .jsonl / .json / .parquet file, else the hub dataset ``source``."""
    import pandas as pd

    path = Path(source)
    if path.suffix == ".parquet":
        return pd.read_parquet(path).to_dict("records")
    if path.suffix in (".jsonl", ".json"):
        return pd.read_json(path, lines=path.suffix == ".jsonl").to_dict("records")
    from datasets import load_dataset

    try:
        dataset = load_dataset(source, split="test")
    except Exception as exc:  # offline, a wrong id, no access: one line, not a traceback
        raise ValueError(
            f"could not load {source!r} from the Hugging Face hub ({type(exc).__name__}); "
            "offline, give a local .jsonl, .json or .parquet file as --source"
        ) from None
    return [dict(record) for record in dataset]


@cli.command("math500")
def write_math500(
    source: Annotated[
        str, typer.Option(help="A .jsonl/.json/.parquet file, or a hub dataset id.")
    ] = MATH500_HUB_ID,
    out: Annotated[Path, typer.Option(help="Where the parquet goes.")] = DEFAULT_MATH500_PATH,
) -> Path:
    """Write the MATH-500 validation set with the system prompt (data/test/math500.parquet)."""
    try:
        rows = math500_rows(read_records(source))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--source") from None
    path = write_parquet(rows, out)
    typer.echo(f"wrote {len(rows)} rows to {path}")
    return path


@cli.command("apply-prompt")
def apply_prompt(source: Path, out: Path) -> Path:
    """Copy a verl-format parquet with the system prompt put into every ``prompt``."""
    import pandas as pd

    frame = pd.read_parquet(source)
    if "prompt" not in frame.columns:
        raise typer.BadParameter(f"{source} has no 'prompt' column (verl's RL schema)")
    rows = frame.to_dict("records")
    for row in rows:
        row["prompt"] = with_system_prompt(list(row["prompt"]))
    path = write_parquet(rows, out)
    typer.echo(f"wrote {len(rows)} rows with the system prompt to {path}")
    return path


if __name__ == "__main__":
    cli()
