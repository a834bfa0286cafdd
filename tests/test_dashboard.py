"""The live dashboard's state (simulator/live/dashboard/state.py) from synthetic traces, calls and
metrics text, and its server (server.py) on loopback with a run folder written by hand."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.server import create_app
from simulator.live.dashboard.server import Dashboard, Tail, serve_during
from simulator.live.dashboard.state import Board, parse_limiter
from simulator.live.orchestrate import Progress


def attempt(strategy: str, start_t: float, status: int, attempt_no: int = 1) -> dict:
    return {"kind": "attempt", "strategy": strategy, "start_t": start_t, "t": start_t + 0.1,
            "status": status, "attempt": attempt_no, "latency_ms": 100.0}  # fmt: skip


def request(strategy: str, success: bool, fallback: str | None = None) -> dict:
    return {"kind": "request", "strategy": strategy, "success": success, "fallback_used": fallback}


def jsonl(records: list[dict]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


RECORDS = [
    attempt("naive", 0.2, 200), attempt("naive", 0.4, 429), attempt("naive", 1.5, 429, 2),
    attempt("naive", 1.6, 503, 2), attempt("naive", 2.1, 0, 3), attempt("naive", 2.2, 200, 3),
    attempt("naive", 2.9, 404), request("naive", True), request("naive", True, "gpt-4o"),
    request("naive", False), attempt("jitter", 0.1, 200), request("jitter", True),
]  # fmt: skip


def board(**kw) -> Board:  # type: ignore[no-untyped-def]
    args = {"scenario": "s", "strategies": ["naive", "jitter"], "expected": 3, "span_s": 180.0}
    return Board(**{**args, **kw})


def test_counts_are_the_progress_lines_whatever_the_chunks(tmp_path):
    data = jsonl(RECORDS)
    b = board()
    for i in range(0, len(data), 7):  # lines torn at every 7th byte
        b.feed_traces(data[i : i + 7])
    shown = {s["name"]: s for s in b.snapshot(phase="running", current="naive")["strategies"]}
    naive = shown["naive"]
    assert (naive["done"], naive["ok"], naive["attempts"]) == (3, 2, 7)
    assert (naive["rate_limited"], naive["server_errors"], naive["fallbacks"]) == (2, 1, 1)
    assert (shown["jitter"]["done"], shown["jitter"]["attempts"]) == (1, 1)
    # the terminal's own reader of the same file agrees, field by field
    path = tmp_path / "traces.jsonl"
    path.write_bytes(data)
    terminal = Progress("naive", 3)
    terminal.read(path)
    assert (terminal.requests, terminal.successes, terminal.attempts, terminal.rate_limited,
            terminal.server_errors, terminal.fallbacks) == (3, 2, 7, 2, 1, 1)  # fmt: skip


def test_attempts_are_binned_by_start_and_outcome_in_the_reports_bins():
    b = board()
    b.feed_traces(jsonl(RECORDS))
    assert b.bin_s == 1.0  # time_edges over 180 s: the herd-waves chart's 1 s bins
    series = b.snapshot(phase="running")["strategies"][0]["series"]
    assert len(series["2xx"]) == 180
    assert series["2xx"][:3] == [1, 0, 1]
    assert series["429"][:3] == [1, 1, 0]
    assert series["5xx"][:3] == [0, 1, 0]
    assert series["other"][:3] == [0, 0, 2]  # a timeout (status 0) and a 404, as the report


def test_a_line_cut_short_waits_for_its_end():
    b = board()
    line = jsonl([attempt("naive", 0.0, 200)])
    b.feed_traces(line[:-10])
    assert b.progress["naive"].attempts == 0
    b.feed_traces(line[-10:])
    assert b.progress["naive"].attempts == 1


def test_strategy_states_follow_the_run():
    b = board()
    shown = b.snapshot(phase="running", current="jitter", completed=["naive"])["strategies"]
    states = {s["name"]: s["state"] for s in shown}
    assert states == {"naive": "done", "jitter": "running"}
    waiting = b.snapshot(phase="running", current="naive")["strategies"][1]["state"]
    assert waiting == "waiting"
    with pytest.raises(ValueError, match="phase"):
        b.snapshot(phase="sleeping")


def test_an_app_strategy_shows_its_calls_until_its_traces_are_joined():
    b = board(strategies=["app"], apps=frozenset({"app"}))
    b.feed_calls("app", jsonl([{"success": True}, {"success": False}]))
    shown = b.snapshot(phase="running", current="app")["strategies"][0]
    assert (shown["done"], shown["ok"], shown["attempts"]) == (2, 1, None)
    b.feed_traces(jsonl([attempt("app", 0.0, 200), request("app", True)]))
    shown = b.snapshot(phase="running", current="app")["strategies"][0]
    assert (shown["done"], shown["ok"], shown["attempts"]) == (1, 1, 1)


METRICS = """\
# HELP stampede_mock_in_flight Requests in flight, by key and model.
# TYPE stampede_mock_in_flight gauge
stampede_mock_in_flight{key="sk-...0001",model="gpt-4o-mini"} 2.0
# HELP stampede_mock_bucket_remaining What is left in each rate-limit bucket.
# TYPE stampede_mock_bucket_remaining gauge
stampede_mock_bucket_remaining{bucket="requests",key="sk-...0001",model="gpt-4o-mini"} 12.0
stampede_mock_bucket_remaining{bucket="tokens",key="sk-...0001",model="gpt-4o-mini"} 9000.0
# HELP stampede_mock_bucket_limit The size of each rate-limit bucket.
# TYPE stampede_mock_bucket_limit gauge
stampede_mock_bucket_limit{bucket="requests",key="sk-...0001",model="gpt-4o-mini"} 60.0
stampede_mock_bucket_limit{bucket="tokens",key="sk-...0001",model="gpt-4o-mini"} 10000.0
# HELP stampede_mock_scenario_seconds Scenario time now.
# TYPE stampede_mock_scenario_seconds gauge
stampede_mock_scenario_seconds {t}
"""


def test_limiter_rows_and_their_history_restart_with_the_mocks_clock():
    b = board()
    b.feed_metrics(METRICS.replace("{t}", "5.0"))
    b.feed_metrics(METRICS.replace("{t}", "6.0").replace("} 12.0", "} 6.0"))
    limiter = b.snapshot(phase="running", current="naive")["limiter"]
    (row,) = limiter["rows"]
    assert (row["key"], row["model"], row["in_flight"]) == ("sk-...0001", "gpt-4o-mini", 2)
    buckets = {x["name"]: (x["remaining"], x["limit"]) for x in row["buckets"]}
    assert buckets == {"requests": (6.0, 60.0), "tokens": (9000.0, 10000.0)}
    assert row["history"] == [[5.0, 0.2, 0.9], [6.0, 0.1, 0.9]]
    assert limiter["t"] == 6.0
    b.feed_metrics(METRICS.replace("{t}", "0.5"))  # reset for the next strategy
    assert b.snapshot(phase="running")["limiter"]["rows"][0]["history"] == [[0.5, 0.2, 0.9]]
    b.feed_metrics(None, "connection refused")
    assert b.snapshot(phase="running")["limiter"]["note"] == "connection refused"


ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)


async def test_the_parser_reads_the_mocks_own_metrics(aiohttp_client):
    cfg = ProviderConfig(models={"gpt-4o-mini": ModelConfig(latency=INSTANT, rpm=30)},
                         output_tokens=DistConfig(median=8))  # fmt: skip
    client = await aiohttp_client(create_app(cfg))
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(2):
        resp = await client.post("/v1/chat/completions", json=body,
                                 headers={"authorization": "Bearer sk-alpha-0001"})  # fmt: skip
        assert resp.status == 200
    limiter = parse_limiter(await (await client.get("/metrics")).text())
    row = limiter.rows[("sk-...0001", "gpt-4o-mini")]
    requests = row["buckets"]["requests"]
    assert requests["limit"] == 30
    assert 27.9 < requests["remaining"] < 28.1  # two taken; a little refilled since
    assert limiter.t is not None and limiter.t >= 0


# --------------------------------------------------------------------------- the server


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


class _Scenario:  # what Dashboard.follow reads of a Scenario
    name = "hand_written"
    strategies = {"naive": None, "jitter": None}  # noqa: RUF012
    apps: dict[str, object] = {}  # noqa: RUF012
    duration = 10.0
    drain = 170.0
    time_scale = 1.0


def test_the_server_serves_the_state_the_page_and_the_report_only(tmp_path):
    (tmp_path / "traces.jsonl").write_bytes(jsonl(RECORDS))
    (tmp_path / "report.html").write_text("<html>report</html>")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "herd.png").write_bytes(b"\x89PNG")
    (tmp_path / "run.json").write_text("{}")
    dash = Dashboard(tmp_path, 0)
    try:
        assert dash.url.startswith("http://127.0.0.1:")
        dash.follow(_Scenario(), tmp_path, 3, "virtual")  # type: ignore[arg-type]
        dash.finish("done", tmp_path / "report.html", "every threshold holds (exit 0)")
        status, body = get(dash.url + "state.json")
        state = json.loads(body)
        assert status == 200 and state["phase"] == "done" and state["report"] == "report.html"
        assert [s["attempts"] for s in state["strategies"]] == [7, 1]
        assert state["limiter"]["note"] == "virtual run: no mock"
        status, page = get(dash.url)
        assert status == 200 and b"state.json" in page
        assert b"<script src" not in page and b"http" not in page.replace(SVG_NS, b"")
        assert get(dash.url + "report.html") == (200, b"<html>report</html>")
        assert get(dash.url + "plots/herd.png")[0] == 200
        for hidden in ("traces.jsonl", "run.json", "../" + tmp_path.name + "/run.json",
                       "%2e%2e/etc/passwd"):  # fmt: skip
            assert get(dash.url + hidden)[0] == 404, hidden
    finally:
        dash.close()


SVG_NS = b"http://www.w3.org/2000/svg"


def test_a_busy_port_is_refused_and_the_linger_is_bounded(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            Dashboard(tmp_path, taken.getsockname()[1])
    dash = Dashboard(tmp_path, 0)
    dash.follow(_Scenario(), tmp_path, 3, "virtual")  # type: ignore[arg-type]
    endings = {0: ("done", "fine")}
    assert serve_during(dash, lambda: 0, endings=endings, report=tmp_path / "report.html",
                        linger_s=0.2) == 0  # fmt: skip
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(dash.url, timeout=2)


def test_a_replaced_file_is_read_from_its_start(tmp_path):
    path = tmp_path / "traces.jsonl"
    path.write_bytes(b"old line\nold line\n")
    tail = Tail(path)
    assert tail.read() == (b"old line\nold line\n", False)
    path.unlink()
    path.write_bytes(b"new\n")
    assert tail.read() == (b"new\n", True)
    assert tail.read() == (b"", False)


def test_stampede_run_virtual_with_web_prints_its_address_and_ends(tmp_path, capsys):
    from simulator.cli import main

    scenario = Path(__file__).parent / "scenarios" / "tpm_starved_fallback.yaml"
    code = main(["run", str(scenario), "--virtual", "--web", "--web-linger", "0",
                 "--out", str(tmp_path / "run")])  # fmt: skip
    out = capsys.readouterr().out
    assert code in (0, 1), out
    assert "dashboard: http://127.0.0.1:" in out
    assert (tmp_path / "run" / "report.html").exists()


def test_a_busy_web_port_is_a_config_error_before_anything_starts(tmp_path, capsys):
    from simulator.cli import main

    scenario = Path(__file__).parent / "scenarios" / "tpm_starved_fallback.yaml"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        code = main(["run", str(scenario), "--virtual", "--web", "--web-port", port,
                     "--out", str(tmp_path / "run")])  # fmt: skip
    assert code == 2
    assert "--web-port" in capsys.readouterr().err
    assert not (tmp_path / "run" / "traces.jsonl").exists()


def test_an_interrupted_run_does_not_linger_and_an_error_closes_the_server(tmp_path):
    endings = {130: ("interrupted", "interrupted (exit 130)")}
    dash = Dashboard(tmp_path, 0)
    dash.follow(_Scenario(), tmp_path, 3, "virtual")  # type: ignore[arg-type]
    seen: list[dict] = []

    def interrupted() -> int:
        seen.append(json.loads(get(dash.url + "state.json")[1]))
        return 130

    # a linger of an hour would hang the test: an interrupted run must not linger at all
    status = serve_during(dash, interrupted, endings=endings, report=tmp_path / "report.html",
                          linger_s=3600)  # fmt: skip
    assert status == 130 and seen[0]["phase"] == "running"
    assert dash.state()["phase"] == "interrupted" and dash.state()["report"] is None

    broken = Dashboard(tmp_path, 0)
    broken.follow(_Scenario(), tmp_path, 3, "virtual")  # type: ignore[arg-type]

    def fails() -> int:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        serve_during(broken, fails, endings=endings, report=tmp_path / "r.html", linger_s=3600)
    assert broken.state()["phase"] == "failed"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(broken.url, timeout=2)
