"""Runtime control and observation: /_stampede/faults, /_stampede/requests, /metrics."""

from __future__ import annotations

from mock_provider.config import DistConfig, LatencyConfig, ModelConfig, ProviderConfig
from mock_provider.server import create_app

ZERO = DistConfig(median=0)
INSTANT = LatencyConfig(
    network_ms=ZERO, prefill_ms_per_token=ZERO, first_token_ms=ZERO, decode_ms_per_token=ZERO
)
CFG = ProviderConfig(models={"gpt-4o-mini": ModelConfig(latency=INSTANT)},
                     output_tokens=DistConfig(median=8))  # fmt: skip
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def auth(key: str = "sk-alpha-0001") -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def chat(client, key: str = "sk-alpha-0001", **extra):  # type: ignore[no-untyped-def]
    return await client.post("/v1/chat/completions", json={**BODY, **extra}, headers=auth(key))


async def test_a_posted_fault_strikes_the_next_request_and_is_gone_after_delete(aiohttp_client):
    client = await aiohttp_client(create_app(CFG))
    assert (await chat(client)).status == 200
    resp = await client.post("/_stampede/faults", json={"kind": "error", "status": 503})
    assert resp.status == 200
    added = await resp.json()
    fid = added["id"]
    assert added["fault"]["kind"] == "error" and added["fault"]["status"] == 503
    assert (await chat(client)).status == 503
    listed = (await (await client.get("/_stampede/faults")).json())["faults"]
    assert [(f["id"], f["struck"], f["left"]) for f in listed] == [(fid, 1, None)]
    gone = await client.delete(f"/_stampede/faults/{fid}")
    assert (await gone.json()) == {"removed": [fid]}
    assert (await chat(client)).status == 200
    assert (await client.delete(f"/_stampede/faults/{fid}")).status == 404


async def test_delete_clears_every_fault_and_times_counts_down(aiohttp_client):
    client = await aiohttp_client(create_app(CFG))
    one = await (await client.post("/_stampede/faults", json={"kind": "error", "status": 500,
                                                              "times": 2})).json()  # fmt: skip
    two = await (await client.post("/_stampede/faults",
                                   json={"kind": "error", "status": 502,
                                         "key": "sk-beta-0002"})).json()  # fmt: skip
    statuses = [(await chat(client)).status for _ in range(3)]
    assert statuses == [500, 500, 200]  # the first two, then none
    assert (await chat(client, key="sk-beta-0002")).status == 502  # only that key
    cleared = await (await client.delete("/_stampede/faults")).json()
    assert sorted(cleared["removed"]) == sorted([one["id"], two["id"]])
    assert (await (await client.get("/_stampede/faults")).json()) == {"faults": []}


async def test_a_bad_fault_is_a_400_naming_each_field(aiohttp_client):
    client = await aiohttp_client(create_app(CFG))
    resp = await client.post("/_stampede/faults", json={"kind": "reset", "after_tokens": 3})
    assert resp.status == 400
    problems = (await resp.json())["error"]["problems"]
    assert problems[0][0] == "after_tokens" and "not used by kind reset" in problems[0][1]
    resp = await client.post("/_stampede/faults", json={"kind": "explode"})
    assert resp.status == 400 and (await resp.json())["error"]["problems"][0][0] == "kind"
    assert (await client.post("/_stampede/faults", data=b"{")).status == 400


async def test_the_request_journal_filters_by_key_model_status_and_since(aiohttp_client):
    client = await aiohttp_client(create_app(CFG))
    await client.post("/_stampede/faults", json={"kind": "error", "status": 503, "times": 1})
    await chat(client)  # 503, fault "error"
    await chat(client, key="sk-beta-0002")
    await chat(client, stream=True)

    async def entries(query: str = "") -> list[dict]:  # type: ignore[type-arg]
        return (await (await client.get(f"/_stampede/requests{query}")).json())["requests"]

    everything = await entries()
    assert [(e["status"], e["fault"], e["stream"]) for e in everything] == [
        (503, "error", False), (200, None, False), (200, None, True)]  # fmt: skip
    assert everything[2]["output_tokens"] == 8 and everything[2]["ttft_ms"] is not None
    assert [e["key"] for e in await entries("?key=sk-beta-0002")] == ["sk-...0002"]
    assert len(await entries("?key=sk-...0001")) == 2  # the redacted form works too
    assert len(await entries("?status=503")) == 1
    assert len(await entries("?model=gpt-4o")) == 0
    assert len(await entries(f"?since={everything[-1]['t']}")) >= 1
    assert (await client.get("/_stampede/requests?status=abc")).status == 400
    await client.post("/_stampede/reset")
    assert await entries() == []  # only the entries since the last reset


async def test_metrics_count_by_dialect_model_status_and_fault(aiohttp_client):
    client = await aiohttp_client(create_app(CFG))
    await chat(client)
    await chat(client, stream=True)
    await client.post("/v1/chat/completions", json=BODY,
                      headers={**auth(), "x-stampede-fault": "error;status=500"})  # fmt: skip
    text = await (await client.get("/metrics")).text()
    assert ('stampede_mock_responses_total{dialect="openai",fault="none",model="gpt-4o-mini",'
            'status="200"} 2.0') in text  # fmt: skip
    assert ('stampede_mock_responses_total{dialect="openai",fault="error",model="gpt-4o-mini",'
            'status="500"} 1.0') in text  # fmt: skip
    assert "stampede_mock_latency_seconds_count 2.0" in text
    assert "stampede_mock_ttft_seconds_count 1.0" in text
    assert 'stampede_mock_in_flight{key="sk-...0001",model="gpt-4o-mini"} 0.0' in text
    assert 'stampede_mock_bucket_remaining{bucket="requests",key="sk-...0001"' in text
    assert 'stampede_mock_bucket_limit{bucket="requests",key="sk-...0001"' in text


def test_stampede_fault_add_list_clear_against_a_served_mock(mock_server, capsys):
    from simulator.cli import main

    m = mock_server(CFG)
    target = ["--target", m.base_url]
    assert main(["fault", "add", "reset", "times=2", "model=gpt-4o-mini", *target]) == 0
    fid = capsys.readouterr().out.strip()
    assert main(["fault", "add", "slow", "factor=3", "delay=2s", *target]) == 0
    other = capsys.readouterr().out.strip()
    assert main(["fault", "list", *target]) == 0
    listing = capsys.readouterr().out
    assert f"{fid} reset" in listing and "times=2" in listing and "2 left" in listing
    assert f"{other} slow" in listing and "delay=2.0" in listing
    assert main(["fault", "add", "reset", "after_tokens=3", *target]) == 2
    assert "after_tokens is not used by kind reset" in capsys.readouterr().err
    assert main(["fault", "clear", fid, *target]) == 0
    assert capsys.readouterr().out.strip() == f"removed 1: {fid}"
    assert main(["fault", "clear", *target]) == 0
    assert capsys.readouterr().out.strip() == f"removed 1: {other}"
    assert main(["fault", "list", "--target", "http://127.0.0.1:9"]) == 3


async def test_without_a_memory_journal_the_request_log_is_served(aiohttp_client, tmp_path):
    log = tmp_path / "requests.jsonl"
    log.write_text("")
    client = await aiohttp_client(create_app(CFG, log, journal_size=0))
    await chat(client)
    await client.post("/_stampede/reset")
    await chat(client, key="sk-beta-0002")
    await chat(client)
    got = (await (await client.get("/_stampede/requests")).json())["requests"]
    assert [e["key"] for e in got] == ["sk-...0002", "sk-...0001"]  # since the reset only
    bare = await aiohttp_client(create_app(CFG, journal_size=0))
    resp = await bare.get("/_stampede/requests")
    assert resp.status == 404 and "--request-log" in (await resp.json())["error"]["message"]
