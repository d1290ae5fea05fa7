"""Scale-out on a real two-node Ray cluster (two raylets on this machine, one CPU each): the
app on Ray Serve with two replicas, one on each node, behind Ray's HTTP proxy on 127.0.0.1.

The replicas share one view: /stats, the response tables, the statistics file, the record
(one folder both replicas write) and /metrics/replicas add up to what was sent, whichever
replica answers (untagged requests are numbered into steps once, by the keeper), and survive
a replica or the keeper dying.
The module takes about 2 minutes and 3 GiB (two nodes, the Serve controller and proxy, two
replicas with one scoring process each, the keeper).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reward_service.bench.local_server import free_port
from reward_service.replicas.keeper import METRICS_EVERY_S
from reward_service.scoring import compute_score
from reward_service.stats import read_jsonl
from tests.conftest import make_response
from tests.deploy.ray_cluster import TwoNodeCluster, two_node_cluster
from tests.stats import known_alarms

ROOT = Path(__file__).parents[2]
STEPS, ITEMS_PER_STEP, CLIENTS = 12, 64, 4
SETTLE_S = 30.0
"""How long the replicas' reports may take to reach the keeper (they take milliseconds)."""
STEP_GAP_S = 3.0
"""The deployment's quiet gap between untagged steps: the untagged test relies on the
requests of one burst being scored less than this apart (each takes well under a second
through the proxy on a loaded 2-core machine)."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoNodeCluster]:
    root = tmp_path_factory.mktemp("ray")
    # Ray's proxy prefers the replicas of its own node; here it spreads requests over both
    # nodes, so that both replicas score (with proxies on every node, each node's proxy
    # would feed that node's replica: the same split of the run).
    env = {"PYTHONPATH": str(ROOT), "RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING": "0"}
    with two_node_cluster(root, cpus=1, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def stats_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stats") / "stats.jsonl"


@pytest.fixture(scope="module")
def record_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's record: one folder every replica writes into (a shared path)."""
    return tmp_path_factory.mktemp("record")


@pytest.fixture(scope="module")
def serve_url(cluster: TwoNodeCluster, stats_file: Path, record_dir: Path) -> Iterator[str]:
    import ray
    from ray import serve

    from deploy.ray_serve_app import build_app
    from reward_service.replicas.keeper import KEEPER_NAME, KEEPER_NAMESPACE

    saved = dict(os.environ)
    os.environ["REWARD_SERVICE_STATS_FILE"] = str(stats_file)  # passed on to the replicas
    os.environ["REWARD_SERVICE_STATS_STEP_GAP_S"] = str(STEP_GAP_S)
    os.environ["REWARD_SERVICE_RECORD_DIR"] = str(record_dir)
    ray.init(address=cluster.address, log_to_driver=False)
    port = free_port()
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port, "location": "HeadOnly"})
        serve.run(build_app(replicas=2, workers_per_replica=1), blocking=False)
        url = f"http://127.0.0.1:{port}"
        _wait_for(lambda: _healthy(url), 180, "the deployment never became healthy")
        yield url
    finally:
        serve.shutdown()
        for actor in ray.util.list_named_actors(all_namespaces=True):
            if actor["name"] == KEEPER_NAME:  # detached: it outlives serve.shutdown()
                ray.kill(ray.get_actor(KEEPER_NAME, namespace=KEEPER_NAMESPACE))
        ray.shutdown()
        os.environ.clear()
        os.environ.update(saved)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _wait_for(condition: Callable[[], Any], seconds: float, message: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.25)
    raise AssertionError(message)


def _replicas() -> dict[str, Any]:
    """The deployment's replica actors by name."""
    import ray

    return {
        actor["name"]: ray.get_actor(actor["name"], namespace=actor["namespace"])
        for actor in ray.util.list_named_actors(all_namespaces=True)
        if actor["name"].startswith("SERVE_REPLICA::") and "reward_service" in actor["name"]
    }


def _node_of(actor: Any) -> str:
    import ray

    return ray.get(actor.__ray_call__.remote(lambda _: ray.get_runtime_context().get_node_id()))


ANSWERS = ["12.8", "13", "\\frac{64}{5}", "x", "12.80", "12"]


def _requests_of(items: int, step: int | None, think: str = "") -> list[dict[str, Any]]:
    """``items`` items in requests of 1-8 items, as verl's reward workers send them."""
    requests = []
    while items:
        size = min(items, random.randint(1, 8))
        batch = [
            {"response": make_response(random.choice(ANSWERS), think=think), "ground_truth": "12.8"}
            for _ in range(size)
        ]
        requests.append({"items": batch} if step is None else {"items": batch, "step": step})
        items -= size
    return requests


def _send_steps(url: str, first_step: int) -> int:
    """STEPS steps of ITEMS_PER_STEP items as verl sends them: CLIENTS workers, requests of
    1-8 items, balanced by the proxy; returns the number of requests."""
    requests = []
    for step in range(first_step, first_step + STEPS):
        requests += _requests_of(ITEMS_PER_STEP, step)
    _send(url, requests)
    return len(requests)


def _send(url: str, requests: list[dict[str, Any]]) -> None:
    """``requests`` from CLIENTS workers at once, balanced over the replicas by the proxy."""
    errors: list[BaseException] = []

    def worker(share: list[dict[str, Any]]) -> None:
        try:
            with httpx.Client(base_url=url, timeout=60) as client:
                for body in share:
                    client.post("/score", json=body).raise_for_status()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(requests[i::CLIENTS],)) for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def _view(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/stats", timeout=30)
    response.raise_for_status()
    return response.json()


def _items_per_step(url: str) -> dict[int, int]:
    view = _view(url)
    return dict(zip(view["steps"], view["series"]["items"], strict=True))


def _wait_for_fresh_metrics() -> None:
    """Wait until every replica has sent the keeper two metrics reports more than it had:
    the second of them was taken after this call began, so it shows all the replica did
    before."""
    import ray

    from reward_service.replicas.keeper import KEEPER_NAME, KEEPER_NAMESPACE

    keeper = ray.get_actor(KEEPER_NAME, namespace=KEEPER_NAMESPACE)
    reports = lambda: ray.get(keeper.metrics_reports.remote())  # noqa: E731
    start = reports()
    _wait_for(
        lambda: all(reports().get(replica, 0) >= count + 2 for replica, count in start.items()),
        SETTLE_S + 4 * METRICS_EVERY_S,
        "the replicas stopped reporting metrics",
    )


def _replica_samples(url: str, name: str) -> dict[str, float]:
    """``name``'s value per replica (summed over its other labels), from /metrics/replicas."""
    per_replica: dict[str, float] = {}
    text = httpx.get(f"{url}/metrics/replicas", timeout=30).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                replica = sample.labels["replica"]
                per_replica[replica] = per_replica.get(replica, 0.0) + sample.value
    return per_replica


def test_two_replicas_run_on_different_nodes(serve_url: str) -> None:
    from ray import serve

    status = serve.status().applications["default"].deployments["reward_service"]
    assert status.status == "HEALTHY" and status.replica_states.get("RUNNING") == 2
    replicas = _replicas()
    assert len(replicas) == 2
    assert len({_node_of(actor) for actor in replicas.values()}) == 2


def test_batch_through_the_proxy_equals_the_plain_service(serve_url: str) -> None:
    answers = ["12.8", "13", "\\frac{64}{5}", "x", "12.80"] * 4
    items = [{"response": make_response(a), "ground_truth": "12.8"} for a in answers]
    with httpx.Client(base_url=serve_url, timeout=60) as client:
        assert client.get("/health").json()["workers"] == 1
        for _ in range(4):  # several requests, balanced by the proxy over the replicas
            results = client.post("/score", json={"items": items}).json()["results"]
            assert results == [compute_score("x", i["response"], "12.8") for i in items]


def test_an_answer_verified_on_one_replica_is_not_verified_on_the_other(serve_url: str) -> None:
    import ray

    from reward_service.app import SCORER_VERSION
    from reward_service.engine.batch import _digest
    from reward_service.replicas.verdicts import BOARD_NAMESPACE, board_name
    from reward_service.settings import ServiceSettings

    fresh = [f"{random.randint(10**6, 10**7)}.{k}" for k in range(5)]  # never seen before
    items = [{"response": make_response(answer), "ground_truth": "12.8"} for answer in fresh]
    verified = lambda: sum(_replica_samples(serve_url, "reward_cache_misses_total").values())  # noqa: E731
    reporting = lambda: _replica_samples(serve_url, "reward_cache_misses_total")  # noqa: E731
    _wait_for(lambda: len(reporting()) == 2, SETTLE_S, "not every replica reports metrics")
    _wait_for_fresh_metrics()  # nothing an earlier test did is still to be reported
    before = verified()
    first = httpx.post(f"{serve_url}/score", json={"items": items}, timeout=60).json()["results"]
    board = ray.get_actor(board_name(ServiceSettings(), SCORER_VERSION), namespace=BOARD_NAMESPACE)
    digests = [_digest((result["pred"], "12.8")) for result in first]
    _wait_for(lambda: len(ray.get(board.lookup.remote(digests))) == 5, 10, "never shared")
    requests_before = _replica_samples(serve_url, "reward_requests_total")

    def both_replicas_served() -> bool:
        for _ in range(6):  # balanced over both replicas by the proxy
            response = httpx.post(f"{serve_url}/score", json={"items": items}, timeout=60)
            assert response.json()["results"] == first
        _wait_for_fresh_metrics()
        served = _replica_samples(serve_url, "reward_requests_total")
        return len(served) == 2 and all(
            served[replica] > requests_before.get(replica, 0) for replica in served
        )

    _wait_for(both_replicas_served, 120, "the proxy never used both replicas")
    _wait_for_fresh_metrics()  # every replica's metrics show all it did
    assert verified() - before == 5  # once, over both replicas


def test_stats_file_and_metrics_describe_every_replica(serve_url: str, stats_file: Path) -> None:
    requests = _send_steps(serve_url, first_step=1000)
    expected = {step: ITEMS_PER_STEP for step in range(1000, 1000 + STEPS)}
    ours = lambda: {s: n for s, n in _items_per_step(serve_url).items() if s >= 1000}  # noqa: E731
    _wait_for(lambda: ours() == expected, SETTLE_S, f"/stats never added up: {ours()}")
    for _ in range(6):  # whichever replica answers, the whole run
        assert ours() == expected
    in_file = {s.step: s.items for s in read_jsonl(stats_file) if s.step >= 1000}
    assert in_file == expected
    # both replicas scored, and their metrics add up to what was sent
    served = lambda: _replica_samples(serve_url, "reward_requests_total")  # noqa: E731
    _wait_for(lambda: sum(served().values()) >= requests, SETTLE_S, "metrics never caught up")
    per_replica = served()
    assert len(per_replica) == 2 and all(count > 0 for count in per_replica.values())
    items = _replica_samples(serve_url, "reward_items_total")
    assert sum(items.values()) >= STEPS * ITEMS_PER_STEP


def test_untagged_requests_on_every_replica_are_numbered_into_one_step(serve_url: str) -> None:
    """The keeper numbers untagged batches: a burst spread over both replicas is one step
    (one past the highest so far), and the next burst after a quiet gap is the next."""
    time.sleep(STEP_GAP_S * 1.5)  # a quiet gap after the previous tests' requests
    before = _items_per_step(serve_url)
    first = max(before) + 1
    for _ in range(2):
        _send(serve_url, _requests_of(ITEMS_PER_STEP, None))
        time.sleep(STEP_GAP_S * 1.5)
    expected = {**before, first: ITEMS_PER_STEP, first + 1: ITEMS_PER_STEP}
    _wait_for(lambda: _items_per_step(serve_url) == expected, SETTLE_S, "never one step a burst")


def test_the_response_tables_hold_every_replicas_responses(serve_url: str) -> None:
    """The latest rows and their text, through the keeper, whichever replica answers."""
    marker = f"run {random.randint(10**6, 10**7)}"
    sent = _requests_of(40, 5000, think=marker)
    _send(serve_url, sent)
    texts = {item["response"] for request in sent for item in request["items"]}

    def latest_rows() -> list[dict[str, Any]]:
        rows = _view(serve_url)["latest"]
        return rows if rows and all(row["step"] == 5000 for row in rows) else []

    rows = _wait_for(latest_rows, SETTLE_S, "the latest rows never showed the new step")
    assert len({row["id"] for row in rows}) == len(rows) == 12
    for row in rows * 2:  # whichever replica answers, the keeper's row
        text = httpx.get(f"{serve_url}/stats/responses/{row['id']}", timeout=30).json()
        assert text["id"] == row["id"] and text["response"] in texts
    never = httpx.get(f"{serve_url}/stats/responses/0", timeout=30)  # the keeper says so
    assert never.status_code == 404 and never.json()["detail"] == "no such response: 0"
    page = httpx.get(f"{serve_url}/dashboard", timeout=30)
    assert page.status_code == 200 and "/stats" in page.text


def _recorded_per_step(record_dir: Path) -> dict[int, int]:
    """Items per step in the record, read with pyarrow alone from every replica's files."""
    import pyarrow.dataset

    if not any(record_dir.glob("step=*/*.parquet")):
        return {}
    steps = pyarrow.dataset.dataset(record_dir, format="parquet", partitioning="hive")
    return dict(Counter(steps.to_table(columns=["step"])["step"].to_pylist()))


def test_the_record_holds_every_replicas_items_under_the_steps_stats_shows(
    serve_url: str, record_dir: Path
) -> None:
    """Both replicas write into the one folder; the untagged batches the keeper numbered are
    filed under its numbers, so the record and /stats count the same items per step, and
    /record/steps/{step} reads every replica's files whichever replica answers."""
    time.sleep(STEP_GAP_S * 1.5)  # a quiet gap: the untagged burst below is a step of its own
    before = _items_per_step(serve_url)
    _send(serve_url, _requests_of(ITEMS_PER_STEP, None))
    _send(serve_url, _requests_of(16, 4321))
    _wait_for(
        lambda: (shown := _items_per_step(serve_url)) and _recorded_per_step(record_dir) == shown,
        SETTLE_S,
        "the record and /stats never counted the same items per step",
    )
    shown = _items_per_step(serve_url)
    new = {step: items for step, items in shown.items() if step not in before}
    assert new == {max(before) + 1: ITEMS_PER_STEP, 4321: 16}
    import pyarrow.dataset

    table = pyarrow.dataset.dataset(record_dir, format="parquet", partitioning="hive").to_table()
    assert len(set(table["replica"].to_pylist())) == 2
    for _ in range(4):  # whichever replica answers
        page = httpx.get(f"{serve_url}/record/steps/{max(shown)}", timeout=60).json()
        assert page["items"] == shown[max(shown)]


def test_a_token_in_the_url_reaches_no_log(serve_url: str, cluster: TwoNodeCluster) -> None:
    """Ray's proxy and replicas log requests their own way: the token a client put in the
    URL is in none of the cluster's logs, once they show the requests themselves."""
    secret = f"url-token-{uuid.uuid4().hex}"
    openrlhf = {"query": [make_response()], "prompts": [""], "labels": ["12.8"]}
    item = {"response": make_response(), "ground_truth": "12.8"}
    logged = lambda: _log_text(cluster.root).count("/openrlhf/get_reward")  # noqa: E731
    before = logged()
    for query in (f"token={secret}", f"TOKEN={secret}&token={secret}", f"%74oken={secret}"):
        ok = httpx.post(f"{serve_url}/openrlhf/get_reward?{query}", json=openrlhf, timeout=60)
        assert ok.status_code == 200
        httpx.post(f"{serve_url}/score?{query}", json=item, timeout=60).raise_for_status()
        httpx.get(f"{serve_url}/stats?{query}", timeout=60).raise_for_status()
        httpx.get(f"{serve_url}/no-such-route/{secret}?{query}", timeout=60)
    _wait_for(lambda: logged() >= before + 3, SETTLE_S, "the requests never reached a log")
    assert secret not in _log_text(cluster.root)


def _log_text(root: Path) -> str:
    """Every log of the cluster's nodes (Ray's sessions, Serve's, the nodes' own output)."""
    return "\n".join(
        path.read_bytes().decode(errors="replace")
        for path in root.rglob("*")
        if path.is_file() and path.suffix in (".log", ".out", ".err")
    )


def test_a_dead_replica_or_keeper_loses_nothing_reported(serve_url: str) -> None:
    import ray

    from reward_service.replicas.keeper import KEEPER_NAME, KEEPER_NAMESPACE

    _send_steps(serve_url, first_step=2000)
    expected = {step: ITEMS_PER_STEP for step in range(2000, 2000 + STEPS)}
    ours = lambda: {s: n for s, n in _items_per_step(serve_url).items() if 2000 <= s < 3000}  # noqa: E731
    _wait_for(lambda: ours() == expected, SETTLE_S, f"/stats never added up: {ours()}")
    ray.kill(next(iter(_replicas().values())), no_restart=True)  # Serve starts another
    assert ours() == expected
    ray.kill(ray.get_actor(KEEPER_NAME, namespace=KEEPER_NAMESPACE), no_restart=False)
    # Ray restarts the keeper; it reads the file back, then takes the replicas' reports
    _wait_for(lambda: _try(ours) == expected, 60, "the keeper never came back whole")
    _wait_for(lambda: _healthy(serve_url) and len(_replicas()) == 2, 120, "no second replica")
    _send_steps(serve_url, first_step=2000)  # the same steps again, through the new replica
    doubled = {step: 2 * ITEMS_PER_STEP for step in expected}
    _wait_for(lambda: ours() == doubled, SETTLE_S, f"/stats never added up: {ours()}")


def test_scoring_goes_on_while_the_verdict_board_restarts(serve_url: str) -> None:
    import ray

    from reward_service.app import SCORER_VERSION
    from reward_service.replicas.verdicts import BOARD_NAMESPACE, board_name
    from reward_service.settings import ServiceSettings

    board = lambda: ray.get_actor(  # noqa: E731
        board_name(ServiceSettings(), SCORER_VERSION), namespace=BOARD_NAMESPACE
    )

    def scored_right_and_board_up() -> bool:
        """Fresh answers are scored right, whatever the board's state; is it up?"""
        fresh = [f"{random.randint(10**6, 10**7)}.{k}" for k in range(3)]
        items = [{"response": make_response(answer), "ground_truth": "12.8"} for answer in fresh]
        results = httpx.post(f"{serve_url}/score", json={"items": items}, timeout=60).json()
        assert results["results"] == [compute_score("x", i["response"], "12.8") for i in items]
        return _try(lambda: ray.get(board().lookup.remote([]), timeout=10)) is not None

    _wait_for(scored_right_and_board_up, 60, "no verdict board")  # (its owner may have died)
    ray.kill(board(), no_restart=False)  # a crash: Ray restarts it
    _wait_for(scored_right_and_board_up, 60, "the verdict board never came back")


def _try(read: Callable[[], Any]) -> Any:
    from ray.exceptions import RayError

    try:
        return read()
    except (httpx.HTTPError, ValueError, KeyError, RayError):  # 503, no such actor (yet)
        return None


ALARM_STEPS = 6000
"""Above every step the other tests send: the known run's alarms begin here."""


def _alarm_gauges(url: str, kind: str, severity: str) -> dict[str, float]:
    """``reward_alarm{kind, severity}`` per replica, from /metrics/replicas."""
    text = httpx.get(f"{url}/metrics/replicas", timeout=30).text
    return {
        sample.labels["replica"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "reward_alarm"
        and (sample.labels["kind"], sample.labels["severity"]) == (kind, severity)
    }


def test_every_replica_shows_the_keepers_alarms(serve_url: str) -> None:
    """The alarms derive from the keeper's steps: /stats from either replica, and every
    replica's reward_alarm gauges (taken from the keeper with its metrics reports)."""
    import orjson
    import ray

    from reward_service.replicas.keeper import KEEPER_NAME, KEEPER_NAMESPACE

    bodies = known_alarms.bodies()
    for body in bodies:  # spread over both replicas by the proxy
        body["step"] += ALARM_STEPS
        _send(serve_url, [{**body, "items": body["items"][k::4]} for k in range(4)])
    keeper = ray.get_actor(KEEPER_NAME, namespace=KEEPER_NAMESPACE)
    keepers = lambda: orjson.loads(ray.get(keeper.snapshot_json.remote()))["alarms"]  # noqa: E731
    opened = lambda: {(a["kind"], a["since_step"]) for a in keepers() if a["open"]}  # noqa: E731
    expected = {(kind, ALARM_STEPS) for kind, _, open_, *_ in known_alarms.EXPECTED if open_}
    _wait_for(lambda: expected <= opened(), SETTLE_S, f"the keeper never raised {expected}")
    alarms = keepers()
    for _ in range(6):  # whichever replica answers, the keeper's alarms
        assert _view(serve_url)["alarms"] == alarms
    raised = lambda: _alarm_gauges(serve_url, "answer_collapse", "warning")  # noqa: E731
    _wait_for(lambda: list(raised().values()) == [1.0, 1.0], SETTLE_S, "a replica never showed it")
    assert list(_alarm_gauges(serve_url, "no_learning_signal", "info").values()) == [1.0, 1.0]


def test_app_builder_reads_serve_run_arguments() -> None:
    from deploy.ray_serve_app import app_builder, build_app

    assert app_builder({"replicas": "3", "workers_per_replica": "2"}) is not None
    with pytest.raises(ValueError, match="replicas"):
        build_app(replicas=0)
