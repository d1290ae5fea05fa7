"""TRL's real GRPOTrainer tags the service's statistics: the global step from
``trainer_state``, each completion's group (its prompt's index in the step) and its length
in tokens (``completion_ids``), so ``/stats`` shows one step per training step."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trl

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.integrations.trl import multisignal_reward_funcs, prompt_groups
from reward_service.settings import ServiceSettings

MAX_TOKENS = 8


def test_two_training_steps_are_two_steps_of_two_groups(model_folder: Path) -> None:
    from datasets import Dataset
    from transformers import AutoTokenizer

    rows = [
        {"prompt": "Find V.", "ground_truth": "12.8", "data_source": "pi1"},
        {"prompt": "Find W.", "ground_truth": "3", "data_source": "math500"},
    ] * 2
    args = trl.GRPOConfig(
        output_dir=str(model_folder / "out"),
        per_device_train_batch_size=8,
        num_generations=4,
        max_completion_length=MAX_TOKENS,
        max_steps=2,
        use_cpu=True,
        bf16=False,
        report_to=[],
        reward_weights=[1.0, 0.2, 0.2],
    )
    with serve_in_thread(create_app(ServiceSettings(workers=1))) as url:
        trainer = trl.GRPOTrainer(
            model=str(model_folder),
            reward_funcs=multisignal_reward_funcs(url, num_generations=args.num_generations),
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=AutoTokenizer.from_pretrained(model_folder),
        )
        trainer.train()
        view = httpx.get(f"{url}/stats", timeout=60).json()
    series = view["series"]
    assert view["steps"] == [0, 1]  # trainer_state.global_step when each step was scored
    assert series["items"] == [8, 8] and series["batches"] == [1, 1]
    assert series["groups"] == [2, 2] and series["group_size"] == [4, 4]
    assert view["length_unit"] == "tokens"
    assert all(0 < length <= MAX_TOKENS for length in series["length_max"])
    assert {source["name"] for source in view["sources"]} <= {"pi1", "math500"}


@pytest.mark.parametrize(
    ("prompts", "num_generations", "groups"),
    [
        (["a", "a", "b", "b"], None, ["0-0", "0-0", "0-1", "0-1"]),
        (["a", "a", "a", "a"], 2, ["0-0", "0-0", "0-1", "0-1"]),  # one prompt drawn twice
        ([[{"role": "user", "content": "a"}]] * 2, None, ["0-0", "0-0"]),
    ],
)
def test_groups_are_runs_of_one_prompt(prompts, num_generations, groups, monkeypatch) -> None:
    monkeypatch.delenv("RANK", raising=False)
    assert prompt_groups(prompts, num_generations) == groups
    monkeypatch.setenv("RANK", "3")
    assert prompt_groups(prompts, num_generations)[0] == "3-0"
