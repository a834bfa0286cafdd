"""The scenario reference: field docs, JSON Schema, docs/scenarios.md, init and list."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from mock_provider.config import FaultWindowConfig
from simulator.cli import main
from simulator.client.presets import PRESET_FIELDS
from simulator.config import ClientConfig, Scenario, load_scenario
from simulator.reference.docs import render_docs, schemas_json
from simulator.reference.fields import FIELD_DOCS
from simulator.reference.models import field_views, models_in_order, type_text
from simulator.reference.schema import client_schema, scenario_schema
from simulator.reference.starter import STARTER, shipped_scenarios

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _all_field_keys() -> set[str]:
    models = {*models_in_order(Scenario), *models_in_order(ClientConfig)}
    return {view.key for m in models for view in field_views(m)}


def test_every_field_has_words_and_no_words_outlive_their_field() -> None:
    keys = _all_field_keys()
    assert sorted(keys - set(FIELD_DOCS)) == [], "add these to simulator/reference/fields.py"
    assert sorted(set(FIELD_DOCS) - keys) == [], "these fields are gone: remove them"


def test_committed_reference_is_fresh() -> None:
    """CI fails when docs/ falls behind the schema: regenerate with the command below."""
    hint = "stale: run `stampede schema --docs docs/` and commit docs/"
    assert (DOCS / "scenarios.md").read_text(encoding="utf-8") == render_docs(), hint
    for name, text in schemas_json().items():
        assert (DOCS / name).read_text(encoding="utf-8") == text, f"{name} {hint}"


def test_every_shipped_scenario_and_client_file_validates_against_the_schema() -> None:
    scenario = jsonschema.Draft202012Validator(scenario_schema())
    files = shipped_scenarios()
    assert len(files) >= 10
    for path in files:
        errors = [e.message for e in scenario.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], path.name
    client = jsonschema.Draft202012Validator(client_schema())
    for path in sorted((ROOT / "examples" / "clients").glob("*.yaml")):
        assert [e.message for e in client.iter_errors(yaml.safe_load(path.read_text()))] == []


def test_the_schema_refuses_what_the_loader_refuses_and_takes_what_it_takes() -> None:
    validator = jsonschema.Draft202012Validator(scenario_schema())
    good = yaml.safe_load(STARTER)
    good["duration"], good["objective"], good["time_scale"] = "2m", "p95", "auto"
    good["strategies"]["naive"]["fallback_on"] = [429, "5xx"]  # YAML's unquoted 429
    assert list(validator.iter_errors(good)) == []
    for path, value in [
        (("name",), "../../etc"),  # the report folder's name, not a path
        (("strategies", "naive", "fallback_on"), [503]),
        (("workload", "arrivals", "rat"), 3),  # a misspelt field
        (("duration",), "two minutes"),  # not a duration
        (("strategies", "naive", "retry", "kind"), "fool_jitter"),
        (("time_scale",), 0),
    ]:
        bad = yaml.safe_load(STARTER)
        node = bad
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        assert list(validator.iter_errors(bad)), path


def test_docs_say_where_each_field_goes() -> None:
    page = render_docs()
    # The question a user asked: where does `users` go?
    row = next(line for line in page.splitlines() if line.startswith("| `users` |"))
    assert "`workload.arrivals.users` (closed_loop)" in row
    assert "`workload.prompts.users`" in row
    for key in _all_field_keys():
        model, field = key.split(".")
        section = page.split(f'<a id="{model.lower()}"></a>')[1].split("<a id=")[0]
        assert f"| `{field}` |" in section, key
    assert "| `poisson` | `rate` | `max_requests` |" in page  # the kind tables


def test_docs_list_every_catalogue_model_with_its_state() -> None:
    from mock_provider.model.published import published

    section = render_docs().split("## Models in the catalogue")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) == sum(len(models) for models in published().values())
    assert (
        "| `claude-sonnet-4-5-20250929` | `claude-sonnet-4-5` | anthropic | 200,000 | 64,000 | "
        "retired 2026-11-30 |" in rows
    )
    assert (
        "| `gpt-4o-mini-2024-07-18` | `gpt-4o-mini` | openai | 128,000 | 16,384 | deprecated "
        "(retires 2027-01-14) |" in rows
    )
    assert "| `text-embedding-3-small` | - | openai (embedding) | 8,191 | - | served |" in rows
    assert "declares a model of the scenario's own" in " ".join(section.split())


def test_the_docs_scenario_runs(tmp_path: Path) -> None:
    block = re.search(r"## A complete scenario.*?```yaml\n(.*?)```", render_docs(), re.S)
    assert block is not None
    path = tmp_path / "from_docs.yaml"
    path.write_text(block.group(1))
    assert main(["run", str(path), "--virtual", "--out", str(tmp_path / "run")]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["winner"]["strategy"] == "full_jitter"


def test_init_writes_a_starter_that_lints_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "mine.yaml"
    assert main(["init", str(target)]) == 0
    assert (tmp_path / "scenario.schema.json").exists()
    assert load_scenario(target).name == "starter"
    assert main(["lint", str(target)]) == 0
    assert "verdict: no errors or warnings" in capsys.readouterr().out
    assert main(["init", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["init", str(target), "--from", "thundering_herd", "--force"]) == 0
    text = target.read_text()
    assert text.startswith("# yaml-language-server: $schema=./scenario.schema.json\n")
    assert load_scenario(target).name == "thundering_herd"
    assert main(["init", str(tmp_path / "x.yaml"), "--from", "no_such_scenario"]) == 2
    assert "no scenario 'no_such_scenario'" in capsys.readouterr().err


def test_list_shows_every_scenario_battery_item_and_preset_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 100 for line in lines)
    names = {line.split()[0] for line in lines if line.startswith("  ") and line.split()}
    assert {p.stem for p in shipped_scenarios()} <= names
    assert set(PRESET_FIELDS) <= names
    assert {"burst_herd", "flaky_network", "default"} <= names


def test_list_names_the_folder_the_shipped_scenarios_are_in(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # "stampede run NAME.yaml" named a file that is not there outside the source tree.
    monkeypatch.chdir(ROOT)
    assert main(["list"]) == 0
    assert "stampede run scenarios/NAME.yaml" in capsys.readouterr().out
    assert (ROOT / "scenarios").is_dir()
    monkeypatch.chdir(ROOT / "docs")
    assert main(["list"]) == 0
    assert f"stampede run {ROOT / 'scenarios'}/NAME.yaml" in capsys.readouterr().out


def test_a_bound_a_stricter_one_implies_is_not_repeated() -> None:
    info = FaultWindowConfig.model_fields["max_hang"]  # Seconds (>= 0) with gt=0
    assert type_text(info.annotation, info) == "duration (> 0)"
    assert "duration (>= 0)" in render_docs()  # an unimplied one stays


def test_schema_command_writes_both_files(tmp_path: Path) -> None:
    assert main(["schema", "--out", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "scenario.schema.json").read_text())
    assert written == scenario_schema()
    assert json.loads((tmp_path / "client.schema.json").read_text()) == client_schema()
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as refused:  # argparse refuses it at the flag
        main(["schema", "--out", str(blocker)])
    assert refused.value.code == 2
