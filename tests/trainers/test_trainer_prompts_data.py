"""The format prompt and the pi1 data, loaded through verl's own RLHFDataset."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf
from typer.testing import CliRunner

from reward_service.scoring import MultiSignalMathReward
from tests.tiny_models import byte_level_tokenizer
from trainer.data import MATH500_HUB_ID, PI1_LABEL, PI1_PROBLEM, cli, pi1_rows
from trainer.prompts import EXAMPLE_RESPONSE, SYSTEM_PROMPT, VERDICT_CORRECT, VERDICT_WRONG


def test_prompt_example_scores_full_marks() -> None:
    result = MultiSignalMathReward().score(EXAMPLE_RESPONSE, "4")
    assert (result.format, result.verify, result.reflect, result.verdict) == (1, 1, 1, "correct")


def test_prompt_names_both_verdict_sentences_and_every_tag() -> None:
    for text in (
        VERDICT_CORRECT,
        VERDICT_WRONG,
        "<think>",
        "</think>",
        "\\boxed{}",
        "<reflection>",
    ):
        assert text in SYSTEM_PROMPT


def test_pi1_rows_follow_verl_schema() -> None:
    rows = pi1_rows()
    assert len(rows) == 128
    row = rows[0]
    assert row["reward_model"] == {"style": "rule", "ground_truth": PI1_LABEL}
    assert row["extra_info"] == {"index": 124, "split": "train"}
    assert [turn["role"] for turn in row["prompt"]] == ["system", "user"]
    assert row["prompt"][1]["content"].startswith(PI1_PROBLEM)


def _load_with_verl(path: Path, tmp_path: Path) -> list[str]:
    """Render every prompt of ``path`` the way verl's trainer does."""
    from verl.utils.dataset.rl_dataset import RLHFDataset

    tokenizer = byte_level_tokenizer(tmp_path / "tokenizer")
    config = OmegaConf.create(
        {"max_prompt_length": 4096, "cache_dir": str(tmp_path / "cache"), "return_raw_chat": True}
    )
    dataset = RLHFDataset(str(path), tokenizer, config)
    rendered = []
    for index in range(len(dataset)):
        ids = dataset[index].get("raw_prompt_ids")
        chat = dataset[index]["raw_prompt"]
        text = tokenizer.apply_chat_template(list(chat), tokenize=False, add_generation_prompt=True)
        if ids is not None:
            assert tokenizer.decode(ids) == text
        rendered.append(text)
    return rendered


def test_pi1_parquet_loads_in_verl_with_the_system_prompt(tmp_path: Path) -> None:
    out = tmp_path / "pi1_r128.parquet"
    result = CliRunner().invoke(cli, ["pi1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rendered = _load_with_verl(out, tmp_path)
    assert len(rendered) == 128
    assert rendered[0].startswith("<|im_start|>system\n" + SYSTEM_PROMPT)
    assert PI1_PROBLEM in rendered[0] and rendered[0].endswith("<|im_start|>assistant\n")


def test_apply_prompt_replaces_any_system_turn(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    rows = [
        {
            "data_source": "math",
            "prompt": [{"role": "system", "content": "old"}, {"role": "user", "content": "1+1?"}],
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": "2"},
            "extra_info": {"index": 0, "split": "test"},
        },
        {
            "data_source": "math",
            "prompt": [{"role": "user", "content": "2+2?"}],
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": "4"},
            "extra_info": {"index": 1, "split": "test"},
        },
    ]
    pd.DataFrame(rows).to_parquet(source)
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(cli, ["apply-prompt", str(source), str(out)])
    assert result.exit_code == 0, result.output
    rendered = _load_with_verl(out, tmp_path)
    assert all(text.count("<|im_start|>system") == 1 for text in rendered)
    assert all(SYSTEM_PROMPT in text and "old" not in text for text in rendered)


def test_apply_prompt_refuses_a_file_without_prompts(tmp_path: Path) -> None:
    source = tmp_path / "bad.parquet"
    pd.DataFrame([{"text": "x"}]).to_parquet(source)
    result = CliRunner().invoke(cli, ["apply-prompt", str(source), str(tmp_path / "o.parquet")])
    assert result.exit_code != 0 and "prompt" in result.output


def test_math500_from_a_local_file_has_the_system_prompt(tmp_path: Path) -> None:
    source = tmp_path / "math500.jsonl"
    records = [
        {"problem": "What is $1+1$?", "answer": "2", "unique_id": "a"},
        {"problem": "Simplify $\\frac{2}{4}$.", "answer": "\\frac{1}{2}", "unique_id": "b"},
    ]
    source.write_text("\n".join(json.dumps(record) for record in records))
    out = tmp_path / "test" / "math500.parquet"
    result = CliRunner().invoke(cli, ["math500", "--source", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = pd.read_parquet(out).to_dict("records")
    assert [row["reward_model"]["ground_truth"] for row in rows] == ["2", "\\frac{1}{2}"]
    assert [row["data_source"] for row in rows] == [MATH500_HUB_ID] * 2
    for row, record in zip(rows, records, strict=True):
        system, user = row["prompt"]
        assert system["content"] == SYSTEM_PROMPT
        assert user["content"].startswith(record["problem"]) and "\\boxed{}" in user["content"]


def test_math500_names_missing_columns(tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text(json.dumps({"question": "1+1", "answer": "2"}))
    result = CliRunner().invoke(cli, ["math500", "--source", str(source), "--out", "x.parquet"])
    assert result.exit_code != 0 and "missing ['problem']" in result.output


def test_math500_offline_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(cli, ["math500", "--out", "x.parquet"])
    said = " ".join(result.output.replace("│", " ").split())  # rich wraps it in a box
    assert result.exit_code == 2
    assert "from the Hugging Face hub" in said and "give a local .jsonl" in said
    assert "Traceback" not in result.output
