"""TRL: the three reward functions inside TRL's real GRPOTrainer (installed on the CPU,
a tiny Qwen2 built from config), against the live service."""

from __future__ import annotations

from pathlib import Path

import pytest
import trl

from reward_service.integrations.trl import multisignal_reward_funcs
from reward_service.scoring import compute_score
from tests.conftest import make_response
from tests.service_process import scored_requests

ANSWERS = ["12.8", "12", "\\frac{64}{5}", "7"]
VERDICTS = ["The answer is correct.", "The answer is wrong.", "The answer is wrong.", "Fine."]


def grpo_trainer(model_folder: Path, url: str, dataset_rows: list[dict], **config):
    from datasets import Dataset
    from transformers import AutoTokenizer

    args = trl.GRPOConfig(
        output_dir=str(model_folder / "out"),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=8,
        use_cpu=True,
        bf16=False,
        report_to=[],
        logging_steps=1,
        reward_weights=[1.0, 0.2, 0.2],
        **config,
    )
    return trl.GRPOTrainer(
        model=str(model_folder),
        reward_funcs=multisignal_reward_funcs(url),
        args=args,
        train_dataset=Dataset.from_list(dataset_rows),
        processing_class=AutoTokenizer.from_pretrained(model_folder),
    )


def expected_columns(responses: list[str], label: str) -> list[list[float]]:
    scored = [compute_score("trl", response, label) for response in responses]
    return [[float(s["verify"]), float(s["format"]), float(s["reflect"])] for s in scored]


@pytest.mark.parametrize("conversational", [False, True], ids=["plain", "conversational"])
def test_trls_reward_loop_gets_each_signal_in_one_request(
    model_folder: Path, service_url: str, conversational: bool
) -> None:
    prompt = [{"role": "user", "content": "Find V."}] if conversational else "Find V."
    rows = [{"prompt": prompt, "ground_truth": "12.8"}] * 4
    trainer = grpo_trainer(model_folder, service_url, rows)
    assert trainer.reward_func_names == ["verify", "format", "reflect"]
    responses = [make_response(a, v) for a, v in zip(ANSWERS, VERDICTS, strict=True)]
    completions = (
        [[{"role": "assistant", "content": r}] for r in responses] if conversational else responses
    )
    before = scored_requests(service_url)
    rewards = trainer._calculate_rewards(rows, [prompt] * 4, completions, [[1]] * 4)
    assert scored_requests(service_url) - before == 1  # one request for the three functions
    assert rewards.tolist() == expected_columns(responses, "12.8")


def test_a_training_step_logs_each_signal(model_folder: Path, service_url: str) -> None:
    rows = [{"prompt": "Find V.", "answer": "12.8"}] * 4  # the label under "answer" also works
    trainer = grpo_trainer(model_folder, service_url, rows, max_steps=1)
    trainer.train()
    logged = {key for entry in trainer.state.log_history for key in entry}
    assert {"rewards/verify/mean", "rewards/format/mean", "rewards/reflect/mean"} <= logged


def test_a_missing_label_column_is_named(service_url: str) -> None:
    verify, _, _ = multisignal_reward_funcs(service_url)
    with pytest.raises(KeyError, match="ground_truth"):
        verify(prompts=["p"], completions=["c"], solution=["1"])


def test_number_labels_keep_their_exact_digits(model_folder: Path, service_url: str) -> None:
    """A float label (a dataset column of numbers) is 1e-05 as text; it means 0.00001."""
    rows = [{"prompt": "Find p.", "ground_truth": 1e-05}] * 2
    trainer = grpo_trainer(model_folder, service_url, rows)
    responses = [make_response("0.00001"), make_response("0.0001", "The answer is wrong.")]
    rewards = trainer._calculate_rewards(rows, ["Find p."] * 2, responses, [[1]] * 2)
    assert rewards.tolist() == [[1.0, 1.0, 1.0], [0.0, 1.0, 1.0]]
