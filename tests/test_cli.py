"""The reward-service command: score files offline or remotely, and serve."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from typer.testing import CliRunner, Result

from reward_service.bench.local_server import ServiceProcess
from reward_service.cli import app
from reward_service.scoring import compute_score
from tests.conftest import make_response
from tests.service_process import ONE_WORKER

ROWS = [
    {"response": make_response("12.8"), "ground_truth": "12.8", "id": 1},
    {"response": make_response("13", "The answer is wrong."), "ground_truth": "12.8", "id": 2},
    {"response": "no format", "ground_truth": "\\frac{64}{5}", "id": 3},
]


def _write_rows(path: Path) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(row) for row in ROWS) + b"\n")
    return path


def _check_scored(path: Path) -> None:
    scored = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [row["id"] for row in scored] == [1, 2, 3]
    for row in scored:
        expected = compute_score("x", row["response"], row["ground_truth"])
        assert {key: row[key] for key in expected} == expected


def test_score_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWARD_SERVICE_WORKERS", "1")
    output = tmp_path / "scored.jsonl"
    result = CliRunner().invoke(
        app, ["score", str(_write_rows(tmp_path / "in.jsonl")), "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    _check_scored(output)


def test_score_against_a_server(tmp_path: Path, service_url: str) -> None:
    output = tmp_path / "scored.jsonl"
    args = [
        "score",
        str(_write_rows(tmp_path / "in.jsonl")),
        "--url",
        service_url,
        "-o",
        str(output),
    ]
    result = CliRunner().invoke(app, [*args, "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    _check_scored(output)


def test_score_rejects_bad_rows(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"response": "x"}\n')
    result = CliRunner().invoke(app, ["score", str(bad)])
    assert result.exit_code != 0 and "ground_truth" in result.output


def test_serve_command_runs_and_stops_cleanly() -> None:
    service = ServiceProcess(env=ONE_WORKER).start()
    try:
        item = {"response": make_response(), "ground_truth": "12.8"}
        assert httpx.post(f"{service.url}/score", json=item).json()["results"][0]["score"] == 1.4
    finally:
        code = service.stop()
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert code in (0, -signal.SIGTERM), service.output
    assert "Application shutdown complete" in service.output


def test_a_dead_service_leaves_the_output_file_alone(tmp_path: Path) -> None:
    from reward_service.bench.local_server import free_port

    rollouts = _write_rows(tmp_path / "rollouts.jsonl")
    output = tmp_path / "scored.jsonl"
    output.write_text("a good earlier result\n")
    dead = f"http://127.0.0.1:{free_port()}"
    args = ["score", str(rollouts), "-o", str(output), "--url", dead, "--retries", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert output.read_text() == "a good earlier result\n"
    assert "error:" in result.output and dead in result.output
    assert "Traceback" not in result.output and len(result.output.splitlines()) < 8
    assert sorted(path.name for path in tmp_path.iterdir()) == ["rollouts.jsonl", "scored.jsonl"]


def _serve_with(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``reward-service serve`` run with ``env`` added; settings errors stop it at once."""
    return subprocess.run(
        [sys.executable, "-m", "reward_service.cli", "serve"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_short_token_stops_serve_with_one_line() -> None:
    done = _serve_with({"REWARD_SERVICE_API_TOKEN": "secret-12", "REWARD_SERVICE_WORKERS": "0"})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert sorted(lines) == [
        "error: REWARD_SERVICE_API_TOKEN: must be at least 16 characters, this one has 9",
        "error: REWARD_SERVICE_WORKERS: Input should be greater than or equal to 1",
    ]
    assert "secret-12" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("command", "usage", "described"),
    [
        ("report", "reward-service report [OPTIONS] {STATS_FILE}", "REWARD_SERVICE_STATS_FILE"),
        ("score", "reward-service score [OPTIONS] {ROLLOUTS_FILE}", "each a /score item"),
    ],
)
def test_help_names_the_file_a_command_reads(command: str, usage: str, described: str) -> None:
    """The usage line names the file by what it holds (typer writes a required argument in
    braces), and the argument's help says what it is."""
    result = CliRunner().invoke(app, [command, "--help"], prog_name="reward-service")
    text = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert usage in text and described in text
    assert "{stats}" not in text and "{rollouts}" not in text


@pytest.mark.parametrize("where", ["directory", "under-a-file", "read-only"])
def test_an_unwritable_stats_file_stops_serve_with_one_line(tmp_path: Path, where: str) -> None:
    (tmp_path / "file").write_text("")
    read_only = Path("/proc/reward-service-stats.jsonl")  # no one may create files there
    path, reason = {
        "directory": (tmp_path, "it is a directory"),
        "under-a-file": (tmp_path / "file" / "stats.jsonl", f"{tmp_path / 'file'} is not a"),
        "read-only": (read_only, "no file can be created in /proc"),
    }[where]
    done = _serve_with({"REWARD_SERVICE_STATS_FILE": str(path), **ONE_WORKER})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stdout
    assert lines[0].startswith(
        f"error: REWARD_SERVICE_STATS_FILE: cannot write the statistics file {path}: "
    )
    assert reason in lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "RECORD_DIR",
            "{file}/record",
            "cannot keep the record in {file}/record: {file} is not a directory",
        ),
        (
            "RECORD_DIR",
            "{foreign}",
            "cannot keep the record in {foreign}: it holds files of its own (notes.txt, step=1, "
            "step=2) and is no record (no _reward_record.json); give a new or empty folder",
        ),
        ("RECORD_MAX_BYTES", "1000", "Input should be greater than or equal to 1048576"),
        ("RECORD_MAX_STEPS", "0", "Input should be greater than or equal to 1"),
    ],
)
def test_a_record_setting_that_cannot_work_stops_serve_with_one_line(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    """A folder of other files is refused, as ``rescore`` refuses it: the record would write
    among them, and its retention remove them."""
    (tmp_path / "file").write_text("")
    foreign = tmp_path / "foreign"
    for step in (1, 2):
        (foreign / f"step={step}").mkdir(parents=True)
    (foreign / "step=1" / "data.csv").write_text("precious\n")
    (foreign / "notes.txt").write_text("mine\n")
    places = {"{file}": tmp_path / "file", "{foreign}": foreign}
    for name, place in places.items():
        value, message = value.replace(name, str(place)), message.replace(name, str(place))
    done = _serve_with({f"REWARD_SERVICE_{variable}": value, **ONE_WORKER})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: REWARD_SERVICE_{variable}: {message}"]
    assert sorted(str(path.relative_to(foreign)) for path in foreign.rglob("*")) == [
        "notes.txt",
        "step=1",
        "step=1/data.csv",
        "step=2",
    ]


# --- reward-service rescore ---------------------------------------------------------------


@pytest.fixture(scope="module")
def written_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three steps scored by a real service with the record on, as it wrote them."""
    from reward_service.app import create_app
    from reward_service.bench.local_server import serve_in_thread
    from reward_service.settings import ServiceSettings

    root = tmp_path_factory.mktemp("written") / "record"
    answers = ["12.8", "13", "\\frac{64}{5}", "12", "12.80", "x"]
    with serve_in_thread(create_app(ServiceSettings(workers=1, record_dir=root))) as url:
        for step in range(3):
            items = [{"response": make_response(a), "ground_truth": "12.8"} for a in answers]
            httpx.post(f"{url}/score", json={"items": items, "step": step}).raise_for_status()
    return root  # the server's stop wrote and compacted every step


def _rescore(*args: str) -> Result:
    return CliRunner().invoke(app, ["rescore", *args], prog_name="reward-service")


def _rows_of(output: str, title: str) -> list[list[str]]:
    """The body rows of the rich table titled ``title`` in the command's ``output``."""
    table = output.split(title, 1)[1].split("└", 1)[0]
    lines = [line for line in table.splitlines() if line.startswith("│")]
    return [[cell.strip() for cell in line.strip("│").split("│")] for line in lines]


def test_rescore_finds_nothing_changed_in_a_record_as_written(
    written_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REWARD_SERVICE_WORKERS", "1")
    result = _rescore(str(written_record))
    assert result.exit_code == 0, result.output
    steps = _rows_of(result.output, "Re-scored steps")
    assert [row[:5] for row in steps] == [[str(step), "6", "0", "0", "0"] for step in range(3)]
    assert all(row[5] == row[6] for row in steps)  # the mean reward, before and after
    assert "18 items in 3 steps: 0 changed" in result.output
    assert "Most frequent changes" not in result.output


def test_rescore_finds_exactly_the_rows_altered_by_hand(
    written_record: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from reward_service.record.files import data_files, step_folder

    root = tmp_path / "record"
    shutil.copytree(written_record, root)
    (path,) = data_files(step_folder(root, 1))
    table = pq.read_table(path)
    rows = table.to_pylist()
    for row in rows[1:3]:  # 13 and \frac{64}{5}: the right one made wrong, the wrong one right
        row["verify"], row["score"] = 1 - row["verify"], row["score"] + (1 - 2 * row["verify"])
    pq.write_table(pa.Table.from_pylist(rows, table.schema), path, compression="zstd")

    monkeypatch.setenv("REWARD_SERVICE_WORKERS", "1")
    out = tmp_path / "changes.parquet"
    result = _rescore(str(root), "--steps", "1:", "--out", str(out))
    assert result.exit_code == 0, result.output
    steps = _rows_of(result.output, "Re-scored steps")
    assert [row[:5] for row in steps] == [["1", "6", "2", "0", "0"], ["2", "6", "0", "0", "0"]]
    changes = pq.read_table(out).to_pylist()
    assert [(row["step"], row["item"]) for row in changes] == [(1, 1), (1, 2)]
    assert [(row["verify_before"], row["verify_after"]) for row in changes] == [(1, 0), (0, 1)]
    shown = _rows_of(result.output, "Most frequent changes")
    assert [row[:2] for row in shown] == [["13", "12.8"], ["\\frac{64}{5}", "12.8"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}"], "error: {missing}: no such folder"),
        (["{plain}"], "error: {plain}: not a reward-service record (it has no"),
        (["{record}", "--steps", "5"], "error: steps '5': expected A:B"),
        (["{record}", "--steps", "9:7"], "error: steps '9:7': expected A:B"),
        (["{record}", "--steps", "100:200"], "error: the record holds no steps in 100:200"),
    ],
)
def test_rescore_says_what_is_wrong_in_one_line(
    written_record: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    places = {"{missing}": tmp_path / "nothing", "{plain}": tmp_path, "{record}": written_record}
    for name, place in places.items():
        args = [arg.replace(name, str(place)) for arg in args]
        message = message.replace(name, str(place))
    result = _rescore(*args)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and message in result.output


def test_rescore_leaves_the_routes_own_verdicts_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OpenRLHF query that does not start with its prompt is the route's error, recorded
    with the whole query: re-scoring that query would invent a change."""
    from reward_service.app import create_app
    from reward_service.bench.local_server import serve_in_thread
    from reward_service.settings import ServiceSettings

    root = tmp_path / "record"
    prompt = "<|im_start|>user\nFind V.<|im_end|>\n<|im_start|>assistant\n"
    body = {
        "query": [prompt + make_response("12.8"), "Another question. " + make_response("12.8")],
        "prompts": [prompt, prompt],
        "labels": ["12.8", "12.8"],
    }
    with serve_in_thread(create_app(ServiceSettings(workers=1, record_dir=root))) as url:
        answer = httpx.post(f"{url}/openrlhf/get_reward", json=body, timeout=60).json()
    assert answer["rewards"] == [pytest.approx(1.4), 0.0]

    monkeypatch.setenv("REWARD_SERVICE_WORKERS", "1")
    result = _rescore(str(root))
    assert result.exit_code == 0, result.output
    [step] = _rows_of(result.output, "Re-scored steps")
    assert step[1:5] == ["2", "0", "0", "1"]  # items, changed, timeouts, not re-scorable
    assert step[5] == step[6]  # the mean reward: the route's verdict stands
    assert "2 items in 1 step: 0 changed" in result.output
    assert "1 not re-scorable" in result.output
    assert "Most frequent changes" not in result.output


def test_rescore_skips_rows_without_a_response_or_label_in_one_line(
    written_record: Path, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from reward_service.record.files import data_files, step_folder

    root = tmp_path / "record"
    shutil.copytree(written_record, root)
    for step in (1, 2):
        (path,) = data_files(step_folder(root, step))
        table = pq.read_table(path)
        rows = table.to_pylist()
        rows[0]["response"], rows[1]["ground_truth"] = None, None
        pq.write_table(pa.Table.from_pylist(rows, table.schema), path, compression="zstd")

    done = subprocess.run(
        [sys.executable, "-m", "reward_service.cli", "rescore", str(root)],
        env={**os.environ, **ONE_WORKER, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    steps = _rows_of(done.stdout, "Re-scored steps")
    assert [row[:5] for row in steps] == [
        ["0", "6", "0", "0", "0"],
        ["1", "6", "0", "0", "2"],
        ["2", "6", "0", "0", "2"],
    ]
    said = [line for line in done.stderr.splitlines() if "without a response or label" in line]
    assert len(said) == 1 and "step 1" in said[0]
    assert "4 not re-scorable" in done.stdout


@pytest.mark.parametrize("where", ["a-folder", "inside-the-record"])
def test_rescore_refuses_an_out_it_cannot_or_must_not_write_and_leaves_nothing(
    written_record: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    root = tmp_path / "record"
    shutil.copytree(written_record, root)
    (tmp_path / "a-folder").mkdir()
    out, said = {
        "a-folder": (tmp_path / "a-folder", "is a folder"),
        "inside-the-record": (root / "step=1", "inside the record"),
    }[where]
    before = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*"))

    monkeypatch.setenv("REWARD_SERVICE_WORKERS", "1")
    result = _rescore(str(root), "--out", str(out))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --out {out}: ") and said in lines[0]
    assert sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*")) == before
