"""The published model catalogue: aliases, snapshots, lifecycle by date, the real 404s, and
each dialect's model list, through the brain and through the real openai and anthropic SDKs."""

from __future__ import annotations

from datetime import date, timedelta

import anthropic
import openai
import pytest

from mock_provider.config import CATALOG_DATE, ModelConfig, ProviderConfig
from mock_provider.dialects.anthropic import errors as ant_errors
from mock_provider.dialects.openai import errors as oai_errors
from mock_provider.model.catalog import CACHE_WRITE_1H, CACHE_WRITE_5M, build_catalog
from mock_provider.model.provider import ChatRequest, Completion, Provider, Rejection
from mock_provider.model.published import lifecycle, published

MESSAGES = [{"role": "user", "content": "Hello"}]
INSTANT = {"network_ms": {"median": 0}, "prefill_ms_per_token": {"median": 0},
           "first_token_ms": {"median": 0}, "decode_ms_per_token": {"median": 0}}  # fmt: skip


def _entry(model_id: str):
    return next(m for ms in published().values() for m in ms if model_id in m.names)


def _ask(p: Provider, model: str, dialect: str) -> Completion | Rejection:
    d = p.chat(ChatRequest("k", model, 20, 10, False, (), dialect=dialect), 0.0)  # type: ignore[arg-type]
    assert isinstance(d, Completion | Rejection)
    return d


# -- the table itself ---------------------------------------------------------------------------


def test_every_entry_is_sourced_and_priced_consistently() -> None:
    for dialect, models in published().items():
        for m in models:
            assert m.source.strip(), m.id
            assert m.context_window > m.max_output >= 0, m.id
            if dialect == "anthropic":  # cache read 0.1x, writes 1.25x / 2x input
                assert m.price.cached_input == pytest.approx(0.1 * m.price.input, abs=0.006)
                assert m.price.cache_write_5m == pytest.approx(CACHE_WRITE_5M * m.price.input,
                                                               abs=0.015)  # fmt: skip
                assert m.price.cache_write_1h == pytest.approx(CACHE_WRITE_1H * m.price.input,
                                                               abs=0.015)  # fmt: skip


def test_spec_prices_and_limits_are_the_table_s() -> None:
    catalog = build_catalog(ProviderConfig())
    for dialect, models in published().items():
        for m in models:
            if lifecycle(m, CATALOG_DATE) not in ("active", "deprecated"):
                continue
            for name in m.names:
                s = catalog[name]
                assert (s.dialect, s.snapshot, s.context_window, s.max_output_tokens) == (
                    dialect,
                    m.id,
                    m.context_window,
                    m.max_output,
                )
                assert (s.price_input, s.price_cached_input, s.price_output) == (
                    m.price.input,
                    m.price.cached_input,
                    m.price.output,
                )
                assert s.tier_limits == m.limits


# -- aliases and snapshots ----------------------------------------------------------------------

ALIASES = [
    ("gpt-4o", "gpt-4o-2024-08-06"),
    ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
    ("gpt-4.1", "gpt-4.1-2025-04-14"),
    ("gpt-5", "gpt-5-2025-08-07"),
    ("o3", "o3-2025-04-16"),
    ("claude-haiku-4-5", "claude-haiku-4-5-20251001"),
    ("claude-opus-4-5", "claude-opus-4-5-20251101"),
    ("claude-sonnet-4-6", "claude-sonnet-4-6"),  # a dateless ID is its own alias
]


@pytest.mark.parametrize(("alias", "snapshot"), ALIASES)
def test_an_alias_resolves_to_its_snapshot(alias: str, snapshot: str) -> None:
    catalog = build_catalog(ProviderConfig())
    a, s = catalog[alias], catalog[snapshot]
    assert a.name == alias and a.snapshot == s.snapshot == s.name == snapshot
    assert (a.price_input, a.context_window, a.max_output_tokens) == (
        s.price_input,
        s.context_window,
        s.max_output_tokens,
    )


@pytest.mark.parametrize(
    ("model", "dialect"),
    [("gpt-4o-2024-08-06", "openai"), ("gpt-4o-2024-11-20", "openai"), ("gpt-5", "openai"),
     ("gpt-5-mini-2025-08-07", "openai"), ("gpt-6-luna", "openai"),
     ("claude-haiku-4-5-20251001", "anthropic"), ("claude-opus-4-7", "anthropic"),
     ("claude-sonnet-4-6", "anthropic")],
)  # fmt: skip
def test_a_real_model_is_served(model: str, dialect: str) -> None:
    assert isinstance(_ask(Provider(ProviderConfig()), model, dialect), Completion)


# -- lifecycle by date --------------------------------------------------------------------------

LIFECYCLE = [
    # (model, day, state): the day a scenario's catalog_date names
    ("gpt-4o-2024-08-06", CATALOG_DATE, "deprecated"),  # notice 2026-10-14, still served
    ("gpt-4o-2024-08-06", date(2027, 1, 13), "deprecated"),
    ("gpt-4o-2024-08-06", date(2027, 1, 14), "retired"),  # on the shutdown day itself
    ("gpt-4o-2024-08-06", date(2026, 10, 13), "active"),  # before the notice
    ("gpt-5-2025-08-07", CATALOG_DATE, "deprecated"),  # shuts down 2026-12-11
    ("o3-mini-2025-01-31", CATALOG_DATE, "retired"),  # shut down 2026-10-23
    ("claude-3-5-sonnet-20241022", date(2025, 10, 27), "deprecated"),
    ("claude-3-5-sonnet-20241022", date(2025, 10, 28), "retired"),
    ("claude-3-5-haiku-20241022", date(2026, 2, 19), "retired"),
    ("claude-sonnet-4-5-20250929", date(2026, 11, 29), "deprecated"),
    ("claude-sonnet-4-5-20250929", date(2026, 11, 30), "retired"),
    ("claude-haiku-4-5-20251001", CATALOG_DATE, "active"),
    ("claude-opus-5", date(2026, 7, 23), "unreleased"),
    ("claude-opus-5", date(2026, 7, 24), "active"),
]


@pytest.mark.parametrize(("model", "day", "state"), LIFECYCLE)
def test_lifecycle_on_a_day(model: str, day: date, state: str) -> None:
    assert lifecycle(_entry(model), day) == state
    served = model in build_catalog(ProviderConfig(catalog_date=day))
    assert served == (state in ("active", "deprecated"))


def test_catalog_date_comes_from_the_config_not_the_clock() -> None:
    assert ProviderConfig().catalog_date == CATALOG_DATE == date(2026, 12, 7)
    day = ProviderConfig.model_validate({"catalog_date": "2025-11-01"}).catalog_date
    assert day == date(2025, 11, 1)
    # On 2025-11-01 Sonnet 3.5 had retired, Sonnet 4.5 was served, Opus 4.7 did not exist.
    p = Provider(ProviderConfig(catalog_date=day))
    assert isinstance(_ask(p, "claude-sonnet-4-5", "anthropic"), Completion)
    assert _ask(p, "claude-3-5-sonnet-latest", "anthropic").message_args.get("retired")  # type: ignore[union-attr]
    assert not _ask(p, "claude-opus-4-7", "anthropic").message_args.get("retired")  # type: ignore[union-attr]


# -- the real 404s ------------------------------------------------------------------------------


class _Clock:
    def wall(self, scenario_s: float) -> float:
        return scenario_s


CLOCK = _Clock()
NOT_FOUND = [
    # (model, dialect, status, error type, code, message): the provider's own words
    ("o3-mini", "openai", 404, "invalid_request_error", "model_not_found",
     "The model `o3-mini` has been deprecated, learn more here: "
     "https://platform.openai.com/docs/deprecations"),
    ("gpt-4.1-nano-2025-04-14", "openai", 404, "invalid_request_error", "model_not_found",
     "The model `gpt-4.1-nano-2025-04-14` has been deprecated, learn more here: "
     "https://platform.openai.com/docs/deprecations"),
    ("gpt-4o-2024-09-09", "openai", 404, "invalid_request_error", "model_not_found",
     "The model `gpt-4o-2024-09-09` does not exist or you do not have access to it."),
    ("claude-3-5-sonnet", "openai", 404, "invalid_request_error", "model_not_found",
     "The model `claude-3-5-sonnet` does not exist or you do not have access to it."),
    ("claude-3-5-sonnet-20241022", "anthropic", 404, "not_found_error", None,
     "model: claude-3-5-sonnet-20241022"),
    ("claude-sonnet-4-5", "anthropic", 404, "not_found_error", None, "model: claude-sonnet-4-5"),
    ("claude-3-5-sonnet", "anthropic", 404, "not_found_error", None, "model: claude-3-5-sonnet"),
    ("claude-haiku-4-5-20251015", "anthropic", 404, "not_found_error", None,
     "model: claude-haiku-4-5-20251015"),
]  # fmt: skip


@pytest.mark.parametrize(("model", "dialect", "status", "etype", "code", "message"), NOT_FOUND)
def test_a_model_not_served_gets_the_provider_s_404(
    model: str, dialect: str, status: int, etype: str, code: str | None, message: str
) -> None:
    rej = _ask(Provider(ProviderConfig()), model, dialect)
    assert isinstance(rej, Rejection)
    if dialect == "openai":
        got_status, body, _ = oai_errors.rejection(rej, CLOCK)
        err = body["error"]
        assert (got_status, err["type"], err["code"], err["param"]) == (status, etype, code, None)
    else:
        got_status, err, _ = ant_errors.rejection(rej, CLOCK)
        assert (got_status, err["type"]) == (status, etype)
    assert err["message"] == message


def test_a_scenario_declared_model_is_served_whatever_the_catalogue_says() -> None:
    cfg = ProviderConfig(models={
        "claude-3-5-haiku-20241022": ModelConfig(itpm=50_000),  # retired: declared, so served
        "mistral-large": ModelConfig(price_input=2.0, price_output=6.0),  # not published
        "my-claude": ModelConfig(dialect="anthropic"),
    })  # fmt: skip
    p = Provider(cfg)
    for model, dialect in (("claude-3-5-haiku-20241022", "anthropic"),
                           ("mistral-large", "openai"), ("my-claude", "anthropic")):  # fmt: skip
        assert isinstance(_ask(p, model, dialect), Completion), model
    haiku = p.catalog["claude-3-5-haiku-20241022"]
    assert (haiku.price_input, haiku.max_output_tokens) == (0.80, 8192)  # the published data
    assert isinstance(_ask(p, "claude-3-5-haiku-latest", "anthropic"), Rejection)  # not declared


def test_catalog_limits_are_opt_in() -> None:
    spec = build_catalog(ProviderConfig())["claude-haiku-4-5"]
    assert spec.tier_limits is not None and spec.tier_limits.tier == "4"
    plain = Provider(ProviderConfig())
    tiered = Provider(ProviderConfig(catalog_limits=True))
    assert plain.view("k", "claude-haiku-4-5", 0.0).requests.limit == 10_000  # type: ignore[union-attr]
    view = tiered.view("k", "claude-haiku-4-5", 0.0)
    assert view is not None and view.requests.limit == spec.tier_limits.rpm
    gpt = tiered.view("k", "gpt-4o", 0.0)
    assert gpt is not None and gpt.tokens.limit == 30_000_000  # gpt-4o's Tier 5 TPM


# -- each dialect's /v1/models, through the real SDKs -------------------------------------------


def _cfg() -> ProviderConfig:
    return ProviderConfig.model_validate({"models": {"gpt-4o": {"latency": INSTANT}}})


def test_openai_sdk_lists_and_retrieves_openai_models_only(mock_server) -> None:
    m = mock_server(_cfg())
    client = openai.OpenAI(base_url=m.base_url, api_key="sk-test", max_retries=0)
    listed = {x.id: x for x in client.models.list()}
    served = {n for n, s in build_catalog(ProviderConfig()).items() if s.dialect == "openai"}
    assert set(listed) == served  # aliases and snapshots, no Claude model, nothing retired
    assert "o3-mini" not in listed and not any(i.startswith("claude") for i in listed)
    assert {x.owned_by for x in listed.values()} == {"system"}
    got = client.models.retrieve("gpt-4o-2024-08-06")
    assert (got.id, got.object) == ("gpt-4o-2024-08-06", "model")
    assert got.created == 1722902400  # 2024-08-06
    assert got.shutdown_date == "2027-01-14"  # the SDK's own field (openai/types/model.py)
    assert client.models.retrieve("gpt-5.2").shutdown_date is None  # none announced
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("claude-haiku-4-5")
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="o3-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.code == "model_not_found" and "has been deprecated" in info.value.message
    answer = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
    assert answer.choices[0].message.content


def test_anthropic_sdk_lists_and_retrieves_claude_models_only(mock_server) -> None:
    m = mock_server(_cfg())
    client = anthropic.Anthropic(base_url=m.base_url.removesuffix("/v1"), api_key="sk-test",
                                 max_retries=0)  # fmt: skip
    ids = [x.id for x in client.models.list()]
    claude = {s.snapshot for s in build_catalog(ProviderConfig()).values()
              if s.dialect == "anthropic"}  # fmt: skip
    assert sorted(ids) == sorted(claude) and len(ids) == len(set(ids))
    assert "claude-haiku-4-5" not in ids and "claude-haiku-4-5-20251001" in ids
    opus = client.models.retrieve("claude-opus-4-5")
    assert (opus.id, opus.display_name, opus.max_input_tokens) == (
        "claude-opus-4-5-20251101",
        "Claude Opus 4.5",
        200_000,
    )
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("gpt-4o")
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model="claude-3-5-haiku-20241022", max_tokens=5,
                               messages=MESSAGES)  # type: ignore[arg-type]  # fmt: skip
    assert info.value.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model: claude-3-5-haiku-20241022"},
        "request_id": info.value.request_id,
    }


def test_a_day_before_a_release_lists_no_such_model(mock_server) -> None:
    day = date(2026, 7, 24) - timedelta(days=1)
    m = mock_server(ProviderConfig(catalog_date=day))
    client = anthropic.Anthropic(base_url=m.base_url.removesuffix("/v1"), api_key="sk-test",
                                 max_retries=0)  # fmt: skip
    ids = [x.id for x in client.models.list()]
    assert "claude-opus-5" not in ids and "claude-opus-4-8" in ids


def test_a_scenario_calling_a_retired_model_is_told_when_and_what_replaces_it(tmp_path) -> None:
    from simulator.config import load_scenario
    from simulator.model_refs import model_problems

    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nduration: 10\nworkload:\n  model: claude-3-5-sonnet-20241022\n"
        "  arrivals: {kind: poisson, rate: 1}\nstrategies:\n  a: {preset: anthropic_sdk}\n"
    )
    [(where, message)] = model_problems(load_scenario(path))
    assert where == "workload.model"
    assert message.startswith(
        "'claude-3-5-sonnet-20241022' retired on 2025-10-28 (catalog_date is 2026-12-07; its "
        "replacement is claude-sonnet-4-5): use one of "
    )
    earlier = path.read_text() + "provider: {catalog_date: 2025-10-01}\n"
    path.write_text(earlier)
    assert model_problems(load_scenario(path)) == []  # served before its shutdown


def test_preflight_and_report_read_the_limits_the_mock_enforces(tmp_path) -> None:
    """One rule (catalog.limits_for) behind the limiter, preflight and the report's lines."""
    from simulator.config import load_scenario
    from simulator.demand import limits_of
    from simulator.report.timelines import model_limits

    path = tmp_path / "s.yaml"
    body = ("name: s\nduration: 10\nworkload:\n  model: gpt-5\n"
            "  arrivals: {kind: poisson, rate: 1}\nstrategies:\n  a: {preset: openai_sdk}\n"
            "provider:\n  catalog_limits: true\n  models:\n    gpt-4o: {rpm: 77}\n")  # fmt: skip
    path.write_text(body)
    sc = load_scenario(path)
    provider = Provider(sc.mock_config)
    saved = sc.model_dump(mode="json")
    for model, (rpm, tpm) in {"gpt-5": (15_000, 40_000_000), "gpt-4o": (77, 30_000_000),
                              "gpt-6-luna": (10_000, 30_000_000)}.items():  # fmt: skip
        view = provider.view("k", model, 0.0)
        assert view is not None and (view.requests.limit, view.tokens.limit) == (rpm, tpm)
        lim = limits_of(sc, model)
        assert (lim.rpm, lim.tpm) == (rpm, tpm)
        assert model_limits(saved, model) == (rpm, tpm)
    assert limits_of(sc, "gpt-5").rpm_default is False  # the tier's, not provider.default_rpm
    assert limits_of(sc, "gpt-6-luna").rpm_default is True  # no published limits
