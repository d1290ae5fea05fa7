"""Service settings, read from ``REWARD_SERVICE_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from reward_service.scoring import RewardWeights, Weight
from reward_service.stats.alarms import DEFAULT_ALARM_SETTINGS, AlarmSettings
from reward_service.stats.kept_steps import UNTAGGED_STEP_GAP_S

DEFAULT_WEIGHTS = RewardWeights()

ENV_PREFIX = "REWARD_SERVICE_"
MIN_TOKEN_CHARS = 16
TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
"""What a bearer token is made of (RFC 6750's b64token): no space, control or non-ASCII
character, which no client could send in an Authorization header."""
MIN_RECORD_BYTES = 2**20
"""The smallest record retention in bytes: below it a single flush could not be kept."""
RECORD_MARKER = "_reward_record.json"
"""The file that makes a folder a record (``reward_service.record.files`` writes it)."""


ALARM_PREFIX = "alarm_"
"""The settings of :class:`AlarmSettings` are its fields' names after this prefix."""


def _alarm(name: str, description: str, **bounds: Any) -> Any:
    """The setting of the alarms' ``name``, its default :data:`DEFAULT_ALARM_SETTINGS`'."""
    return Field(getattr(DEFAULT_ALARM_SETTINGS, name), description=description, **bounds)


def _cpu_count() -> int:
    """CPUs this process may run on (the container's share, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ServiceSettings(BaseSettings):
    """Everything the reward service can be told; each field is ``REWARD_SERVICE_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    host: str = Field("127.0.0.1", description="Interface to bind; 0.0.0.0 inside containers.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port to listen on.")
    workers: int = Field(
        default_factory=_cpu_count, ge=1, le=256, description="Scoring processes in the pool."
    )
    item_timeout_s: float = Field(
        3.0,
        gt=0,
        le=120,
        description="CPU time for verifying one distinct answer; past it the item reports "
        "'timeout' (a worker stuck in C code, or stopped, is killed after "
        "(this + 0.25 s) x 2.5 + 1 s of wall time and replaced).",
    )
    max_items: int = Field(16384, ge=1, le=1_000_000, description="Most items in one request.")
    max_response_chars: int = Field(
        1024 * 1024,
        ge=1,
        description="Longest response scored, in characters; a longer one is that item's "
        "'error' (score 0), the rest of the batch is scored.",
    )
    max_answer_chars: int = Field(
        1000,
        ge=1,
        description="Longest boxed answer, and longest label, that is parsed; longer ones "
        "report an error.",
    )
    max_body_bytes: int = Field(
        256 * 1024 * 1024, ge=1024, description="Largest request body accepted, in bytes."
    )
    max_inflight_items: int = Field(
        65536,
        ge=1,
        description="Most items being scored at once, over all requests; past it a request "
        "gets 503 with Retry-After.",
    )
    max_inflight_bytes: int = Field(
        512 * 1024 * 1024,
        ge=1024,
        description="Most request-body bytes held at once, over all requests; past it a "
        "request gets 503 with Retry-After.",
    )
    worker_memory_mb: int = Field(
        2048, ge=256, description="Address-space limit of each worker (RLIMIT_AS), in MiB."
    )
    cache_size: int = Field(
        200_000, ge=0, description="Verdicts kept across requests (LRU); 0 turns the cache off."
    )
    api_token: SecretStr | None = Field(
        None,
        description=f"When set (at least {MIN_TOKEN_CHARS} characters), /score, /stats and "
        "/record need 'Authorization: Bearer <token>' and /openrlhf/get_reward needs "
        "'?token=<token>'; "
        "/dashboard asks for it once. /health and /metrics stay open.",
    )
    alpha: Weight = Field(DEFAULT_WEIGHTS.alpha, description="Default weight of R_verify.")
    beta: Weight = Field(DEFAULT_WEIGHTS.beta, description="Default weight of R_format.")
    gamma: Weight = Field(DEFAULT_WEIGHTS.gamma, description="Default weight of R_reflect.")
    stats_steps: int = Field(1000, ge=1, description="Steps of statistics kept for /stats.")
    stats_file: Path | None = Field(
        None,
        description="When set, every batch's statistics are appended here (JSONL) and read "
        "back at start-up, so /stats keeps the run across restarts (a checkpoint beside it, "
        "its name + '.steps', keeps that quick).",
    )
    stats_step_gap_s: float = Field(
        UNTAGGED_STEP_GAP_S,
        gt=0,
        description="Requests that carry no step (OpenRLHF's) are one step until no request "
        "comes for this many seconds; the next one starts a new step.",
    )
    record_dir: Path | None = Field(
        None,
        description="When set, every scored item (response, label, signals, weights, step) is "
        "kept in this folder as Parquet, one folder per step, on disk within about a second "
        "(Ray Serve replicas may share it); a full or read-only disk costs rows, counted, "
        "never a request.",
    )
    record_max_steps: int | None = Field(
        None, ge=1, description="The record keeps at most this many steps (the oldest go)."
    )
    record_max_bytes: int | None = Field(
        None,
        ge=MIN_RECORD_BYTES,
        description="The record keeps at most this many bytes (the oldest steps go; the "
        "newest step is always kept).",
    )
    shutdown_grace_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="On SIGTERM, how long requests in flight may finish before they are "
        "cut off (their clients retry); the pool then gets 10 s more.",
    )
    log_level: str = Field(
        "info", pattern="^(critical|error|warning|info|debug)$", description="Server log level."
    )
    alarm_recent_steps: int = _alarm(
        "recent_steps",
        "Alarms: judged steps pooled into the share a change is measured on "
        "(verdict_gaming, format_without_answers, truncation).",
        ge=1,
    )
    alarm_reference_steps: int = _alarm(
        "reference_steps",
        "Alarms: judged steps before those that a change is measured from.",
        ge=1,
    )
    alarm_close_after: int = _alarm(
        "close_after", "Alarms: judged steps in a row without its condition that close one.", ge=1
    )
    alarm_hold_fraction: float = _alarm(
        "hold_fraction",
        "Alarms: an open one holds while its margin stays above this fraction of the margin "
        "that raised it.",
        gt=0,
        le=1,
    )
    alarm_min_items: int = _alarm(
        "min_items",
        "Alarms: fewest items (wrong answers for verdict_gaming) a pooled share is judged on.",
        ge=1,
    )
    alarm_min_z: float = _alarm(
        "min_z",
        "Alarms: a change is raised only when it is this many standard errors of the "
        "difference of its two pooled shares.",
        gt=0,
    )
    alarm_verdict_rise: float = _alarm(
        "verdict_rise",
        "verdict_gaming: rise of the share of wrong answers whose reflection says 'correct'.",
        gt=0,
        le=1,
    )
    alarm_verify_steady: float = _alarm(
        "verify_steady",
        "verdict_gaming: judged only while verify moves by less than this over the same steps.",
        gt=0,
        le=1,
    )
    alarm_format_rise: float = _alarm(
        "format_rise",
        "format_without_answers: rise of the format reward over the responses not cut...",
        gt=0,
        le=1,
    )
    alarm_verify_flat: float = _alarm(
        "verify_flat",
        "format_without_answers: ...while verify rises by less than this.",
        gt=0,
        le=1,
    )
    alarm_format_warmup_steps: int = _alarm(
        "format_warmup_steps",
        "format_without_answers: judged steps from the start in which a format learned is "
        "not an alarm.",
        ge=0,
    )
    alarm_truncation_share: float = _alarm(
        "truncation_share",
        "truncation: share of responses cut at the length limit...",
        gt=0,
        le=1,
    )
    alarm_truncation_rise: float = _alarm(
        "truncation_rise",
        "truncation: ...grown by at least this over the reference steps.",
        gt=0,
        le=1,
    )
    alarm_collapse_share: float = _alarm(
        "collapse_share",
        "answer_collapse: share of a step's items that one wrong answer holds...",
        gt=0,
        le=1,
    )
    alarm_collapse_steps: int = _alarm(
        "collapse_steps", "answer_collapse: ...for this many steps in a row...", ge=1
    )
    alarm_collapse_min_items: int = _alarm(
        "collapse_min_items", "answer_collapse: ...each of at least this many items.", ge=1
    )
    alarm_zero_advantage_share: float = _alarm(
        "zero_advantage_share",
        "no_learning_signal: share of a step's GRPO groups whose samples are all right or all "
        "wrong...",
        gt=0,
        le=1,
    )
    alarm_min_groups: int = _alarm(
        "min_groups",
        "no_learning_signal: ...of at least this many groups of 2+ samples.",
        ge=1,
    )
    alarm_failure_share: float = _alarm(
        "failure_share",
        "scoring_failures: share of a step's items that timed out or failed to score.",
        gt=0,
        le=1,
    )
    alarm_persist_steps: int = _alarm(
        "persist_steps",
        "no_learning_signal, scoring_failures: steps in a row that raise them.",
        ge=1,
    )

    @field_validator("api_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _one_request_fits_in_flight(self) -> ServiceSettings:
        if self.max_items > self.max_inflight_items:
            raise ValueError("max_items must be <= max_inflight_items")
        if self.max_body_bytes > self.max_inflight_bytes:
            raise ValueError("max_body_bytes must be <= max_inflight_bytes")
        return self

    @model_validator(mode="after")
    def _alarm_settings_are_valid(self) -> ServiceSettings:
        self.alarm_settings()  # AlarmSettings' own checks; a ValueError names the settings
        return self

    def alarm_settings(self) -> AlarmSettings:
        """The ``REWARD_SERVICE_ALARM_*`` settings, for the alarms.

        Raises:
            ValueError: they are unsafe (the field bounds catch these first).
        """
        values = {f.name: getattr(self, ALARM_PREFIX + f.name) for f in fields(AlarmSettings)}
        return AlarmSettings(**values)

    @field_validator("stats_file")
    @classmethod
    def _stats_file_is_writable(cls, value: Path | None) -> Path | None:
        if value is not None:
            problem = _unwritable(value)
            if problem:
                raise ValueError(f"cannot write the statistics file {value}: {problem}")
        return value

    @field_validator("record_dir")
    @classmethod
    def _record_dir_can_be_a_folder(cls, value: Path | None) -> Path | None:
        if value is not None:
            problem = record_folder_problem(value)
            if problem:
                raise ValueError(f"cannot keep the record in {value}: {problem}")
        return value

    @field_validator("api_token")
    @classmethod
    def _token_is_not_trivial(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        token = value.get_secret_value()
        if len(token) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"must be at least {MIN_TOKEN_CHARS} characters, this one has {len(token)}"
            )
        if not TOKEN_CHARACTERS.fullmatch(token):
            raise ValueError(
                "may hold only letters, digits and - . _ ~ + / (then = at the end): a "
                "bearer token goes in an Authorization header (RFC 6750); this one has others"
            )
        return value


def _unwritable(path: Path) -> str | None:
    """Why the service could not append to ``path`` (creating it and its folders), or None;
    it leaves nothing behind."""
    if path.is_dir():
        return "it is a directory"
    if path.exists():
        try:
            path.open("ab").close()
        except OSError as exc:
            return exc.strerror or str(exc)
        return None
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a directory"
    try:
        with tempfile.TemporaryFile(dir=folder):  # gone when closed
            return None
    except OSError as exc:
        return f"no file can be created in {folder} ({exc.strerror or exc})"


def record_folder_problem(path: Path) -> str | None:
    """Why the record can never be kept in ``path``, or None: a file is in the way, or it is
    a folder of other files (no :data:`RECORD_MARKER`), which the record must never write
    among nor remove. A folder that cannot be listed is no reason (see :func:`_not_a_folder`).
    """
    problem = _not_a_folder(path)
    if problem is not None:
        return problem
    try:
        names = sorted(set(os.listdir(path)) - {"lost+found"})  # a fresh disk's, mounted here
    except OSError:  # missing (made at start-up), or not to be looked at
        return None
    if not names or RECORD_MARKER in names:
        return None
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return (
        f"it holds files of its own ({shown}) and is no record (no {RECORD_MARKER}); "
        "give a new or empty folder"
    )


def _not_a_folder(path: Path) -> str | None:
    """Why ``path`` can never be a folder (a file is in the way), or None. A folder that is
    read-only or on a full disk is no reason: the service starts, and counts the rows it
    cannot write until it can."""
    for part in (path, *path.parents):
        if os.path.exists(part):  # False where it cannot be looked at: then it is no file
            return None if os.path.isdir(part) else f"{part} is not a directory"
    return None


def settings_errors(error: ValidationError) -> list[str]:
    """One line per invalid setting, naming its variable (never echoing its value)."""
    lines = []
    for problem in error.errors():
        name = f"{ENV_PREFIX}{problem['loc'][0]}".upper() if problem["loc"] else "settings"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{name}: {message}")
    return lines


def settings_table() -> str:
    """The settings as a Markdown table (README's Deploy section holds this very text)."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in ServiceSettings.model_fields.items():
        default = "CPU count" if field.default_factory else field.default
        rows.append(f"| `{ENV_PREFIX}{name.upper()}` | `{default}` | {field.description or ''} |")
    return "\n".join(rows)
