"""Policy as code: parsing, checking, and errors that name the line."""

from __future__ import annotations

import pytest

from llmops_magics.governance._errors import PolicyError
from llmops_magics.governance._policy import load_policy, parse_policy

GOOD = """\
aliases:
  champion:
    gates:
      - metric: bleu
        min: 0.1
        on: lower_bound
      - ratings: {min_count: 20, min_mean_stars: 3.5}
      - agreement: {min: 0.4}
      - signoffs: {min: 1}
      - no_regression: {metric: bleu, p: 0.05}
      - bias: {max_gap: 0.1}
    allow_override: true
  staging:
    gates:
      - signoffs: 0
    auto_promote: true
"""


def test_a_policy_is_parsed_with_each_gate_and_its_line() -> None:
    pol = parse_policy(GOOD, source="p.yaml")
    champion = pol.for_alias("champion")
    assert champion.allow_override is True
    assert [g.kind for g in champion.gates] == [
        "metric",
        "ratings",
        "agreement",
        "signoffs",
        "no_regression",
        "bias",
    ]
    assert champion.gates[0].settings == {"metric": "bleu", "min": 0.1, "on": "lower_bound"}
    assert champion.gates[0].line == 4
    assert champion.gates[1].line == 7
    assert champion.gates[2].settings["statistic"] == "alpha"  # the default
    assert champion.gates[0].label == "bleu >= 0.1 (lower_bound)"
    assert pol.for_alias("staging").gates[0].settings == {"min": 0}
    assert pol.for_alias("staging").allow_override is False
    assert pol.for_alias("staging").auto_promote is True
    assert champion.auto_promote is False
    assert len(pol.hash) == 16 and pol.hash == parse_policy(GOOD).hash


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("aliases:\n  champion:\n    gates: [\n      {signoffs: {min: 1}\n", 5, "not valid YAML"),
        ("aliases:\n  champion:\n    gates:\n      - approvals: {min: 1}\n", 4, "unknown gate"),
        (
            "aliases:\n  champion:\n    gates:\n      - metric: blue\n        min: 3\n",
            4,
            "unknown metric 'blue'",
        ),
        ("aliases:\n  champion:\n    gates:\n      - metric: bleu\n", 4, "exactly one of min"),
        (
            "aliases:\n  c:\n    gates:\n      - signoffs: {min: 1}\n      - ratings: {min: 3}\n",
            5,
            "unknown setting 'min'",
        ),
        (
            "aliases:\n  c:\n    gates:\n      - metric: bleu\n        max: 3\n"
            "        on: lower_bound\n",
            4,
            "on must be",
        ),
        ("aliases:\n  c:\n    gatez: []\n", 3, "unknown key 'gatez'"),
        ("alias:\n  c: {}\n", 1, "'aliases' key"),
        (
            "aliases:\n  c:\n    gates:\n      - no_regression: {metric: bleu, p: 2}\n",
            4,
            "p must be a number from 0 to 1",
        ),
        ("aliases:\n  c:\n    allow_override: maybe\n", 3, "true or false"),
    ],
)
def test_a_bad_policy_is_refused_naming_its_line(text: str, line: int, words: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(text, source="policy.yaml")
    assert err.value.line == line, str(err.value)
    assert f"policy.yaml, line {line}:" in str(err.value)
    assert words in str(err.value)
    assert err.value.hint


def test_an_unknown_metric_names_the_eval_to_run() -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy("aliases:\n  c:\n    gates:\n      - no_regression: {metric: blu}\n")
    assert "%llmops eval --model MODEL --data EVAL_SET --metrics blu" in str(err.value)
    assert "bleu" in str(err.value)  # the known metrics are listed


def test_an_unknown_alias_lists_the_policys_aliases() -> None:
    pol = parse_policy(GOOD)
    with pytest.raises(PolicyError, match="says nothing about the alias 'prod'.*champion, staging"):
        pol.for_alias("prod")
    with pytest.raises(PolicyError, match="several aliases"):
        pol.for_alias(None)


def test_a_policy_is_read_from_a_file_or_text(tmp_path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD)
    assert load_policy(path).hash == load_policy(str(path)).hash == load_policy(GOOD).hash
    with pytest.raises(PolicyError, match="Cannot read the policy file"):
        load_policy(tmp_path / "nope.yaml")


def test_the_review_templates_default_policy_gates_on_the_demos_first_metric() -> None:
    import ast
    import json
    from pathlib import Path

    import yaml

    import llmops_magics

    package = Path(llmops_magics.__file__).parent
    cells = json.loads((package / "templates" / "review.ipynb").read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "DEFAULT_POLICY =" in "".join(c["source"]))
    assign = next(n for n in ast.parse(source).body if isinstance(n, ast.Assign))
    champion = parse_policy(ast.literal_eval(assign.value)).for_alias("champion")
    metrics = {g.settings["metric"] for g in champion.gates if "metric" in g.settings}
    demo = yaml.safe_load((package.parent / "pipelines" / "demo.yaml").read_text())
    first = demo["stages"]["evaluate"]["params"]["metrics"].split(",")[0]
    assert metrics == {first} == {"rougeL"}
    assert [g.kind for g in champion.gates] == ["metric", "no_regression", "ratings", "signoffs"]
