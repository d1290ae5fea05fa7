"""Shared test helpers."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reward_service.app import create_app
from reward_service.bench.local_server import serve_in_thread
from reward_service.settings import ServiceSettings


def make_response(
    answer: str = "12.8",
    verdict_sentence: str = "The answer is correct.",
    think: str = "P = kAV^3, so k = 4/(2*512) and V^3 = 32/(4k) = 2048.",
) -> str:
    """A response in the trained format: think, boxed answer, reflection."""
    return (
        f"<think>{think}</think>\nSo the velocity is \\boxed{{{answer}}} mph.\n"
        f"<reflection>I substituted back into P = kAV^3. {verdict_sentence}</reflection>"
    )


def stats_counts(url: str) -> dict:
    """``/stats`` without its response tables: what the statistics file brings back after a
    restart (the tables are kept in memory only)."""
    response = httpx.get(f"{url}/stats", timeout=60)
    response.raise_for_status()
    return {key: value for key, value in response.json().items() if key not in ("latest", "failed")}


SERVICE_SETTINGS = ServiceSettings(
    workers=2, item_timeout_s=2.0, max_items=64, max_body_bytes=2**20
)


@pytest.fixture(scope="session")
def service_url() -> Iterator[str]:
    """A live service on 127.0.0.1 (random port), shared by the tests that only read from it."""
    with serve_in_thread(create_app(SERVICE_SETTINGS)) as url:
        yield url


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2 and its byte-level tokenizer with Qwen's chat template, built from config."""
    from tests.tiny_models import byte_level_tokenizer, tiny_qwen2

    folder = tmp_path_factory.mktemp("tiny-qwen2")
    byte_level_tokenizer(folder)
    tiny_qwen2(folder)
    return folder


@pytest.fixture
def client(service_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service_url, timeout=60) as http:
        yield http


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB filesystem of its own (tmpfs), to fill up or make read-only."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (needs root): {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)
