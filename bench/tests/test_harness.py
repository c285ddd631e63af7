"""A small run of the harness, so it keeps working. It asserts that load was generated and
answered, never how fast: timings belong in BENCHMARKS.md, not in pass/fail tests."""

import json
import sys

import pytest

from bench import load
from botsite.tests.sites import embedded_site, once_in_ci
from botsite.tests.subprocess_env import clean_env, run

pytestmark = pytest.mark.e2e


@once_in_ci
def test_the_load_generator_drives_the_chat_in_each_mode(tmp_path):
    # One client sending as fast as it can is what the flood guard is for: lift it here.
    lifted = {"CHAT_FLOOD_BURST": "100000", "CHAT_FLOOD_PER_SECOND": "100000"}
    with embedded_site(tmp_path, **lifted, CHAT_ADDRESS_FLOOD_BURST="0") as site:
        chat = [f"ws://127.0.0.1:{site.port}/ws/chat/demo/", "--origin", site.base]
        closed = load.main([*chat, "--chat", "!ping", "--connections", "2", "--seconds", "1"])
        rate = load.main(
            [*chat, "--chat", "!ping", "--mode", "rate", "--rate", "10", "--connections", "2",
             "--seconds", "1"]
        )  # fmt: skip
        pid = str(site.process.popen.pid)
        idle = load.main(
            [*chat, "--chat", "", "--mode", "idle", "--connections", "5", "--seconds", "0.5",
             "--server-pid", pid]
        )  # fmt: skip

    assert closed["round_trips"] > 0
    assert closed["errors"] == 0
    assert rate["round_trips"] > 0
    assert rate["errors"] == 0
    assert idle["alive"] == 5
    assert "kib_per_connection" in idle


@pytest.mark.services
def test_the_runner_serves_baselines_and_product_on_one_daphne(services_env, transactional_db):
    result = run(
        [sys.executable, "-m", "bench.run", "--smoke", "--only", "closed loop, 1"],
        services_env,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    results = [json.loads(line) for line in lines]
    paths = [r["url"].split("/", 3)[3] for r in results]
    rest = ["bench/drf/", "api/v1/bots/demo/messages/"]
    assert paths == ["ws/bench/group/", "ws/chat/demo/", *rest, *rest]  # REST at 1 and 10
    assert all(r["round_trips"] > 0 and r["errors"] == 0 for r in results)


@pytest.mark.services
def test_the_fan_out_benchmark_records_and_pushes_every_delivery(services_env, transactional_db):
    result = run([sys.executable, "-m", "bench.fanout", "--smoke"], services_env, timeout=300)

    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    (smoke,) = [json.loads(line) for line in lines]
    assert smoke["subscriptions"] == smoke["pushed"] == 300
    assert smoke["all_recorded_s"] > 0
    assert smoke["bulk_insert_deliveries_s"] > 0
    assert smoke["rows_deleted"] == 4 * 300, "rooms, subscriptions, deliveries, messages"


@once_in_ci
def test_the_body_benchmark_measures_the_server_under_oversized_posts():
    result = run([sys.executable, "-m", "bench.bodies", "--smoke"], clean_env(), timeout=300)

    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [row["framing"] for row in rows] == ["content-length", "chunked"]
    assert all(row["answers"] == ["HTTP/1.1 413 Content Too Large"] for row in rows)
    assert all(row["rss_peak_kib"] >= row["rss_before_kib"] > 0 for row in rows)


@pytest.mark.services
def test_the_attack_benchmark_measures_a_bystander_idle_and_under_attack(
    services_env, transactional_db
):
    result = run([sys.executable, "-m", "bench.attack", "--smoke"], services_env, timeout=300)

    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(row["server"], row["phase"]) for row in rows] == [
        ("without the limits", "idle"),
        ("without the limits", "30 sockets from one address, retrying every 1 s"),
        ("with the limits (defaults)", "idle"),
        ("with the limits (defaults)", "30 sockets from one address, retrying every 1 s"),
    ]
    assert all(row["bystander_round_trips"] > 0 for row in rows)


@pytest.mark.services
def test_the_room_turns_benchmark_answers_every_message_of_the_slow_room(
    services_env, transactional_db
):
    result = run([sys.executable, "-m", "bench.room_turns", "--smoke"], services_env, timeout=300)

    assert result.returncode == 0, result.stderr[-3000:]
    [line] = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert (len(line["answered_s"]), line["unanswered"]) == (3, 0)


@pytest.mark.services
def test_the_irc_benchmark_answers_through_the_bridge_and_beside_a_bare_echo_bot(
    services_env, transactional_db
):
    result = run(
        [sys.executable, "-m", "bench.irc", "--smoke", "--people", "3"], services_env, timeout=300
    )

    assert result.returncode == 0, result.stderr[-3000:]
    scenarios = dict(line.split(": ", 1) for line in result.stderr.splitlines() if ": {" in line)
    assert len(scenarios) == 4, result.stderr[-3000:]
    for name, figures in scenarios.items():
        assert json.loads(figures)["answered"] > 0, name
