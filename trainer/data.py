"""Build the pi1 training parquet, or put the system prompt into any verl-format parquet.

python -m trainer.data pi1 [--out data/train/one_shot_rlvr/pi1_r128.parquet]
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
