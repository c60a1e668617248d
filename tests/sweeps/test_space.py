"""Search spaces: the text form, dicts, YAML files, and errors that point at the token."""

from __future__ import annotations

import pytest

from llmops_magics.sweeps import Param, SearchSpace, SpaceError, parse_space

TEXT = "lr=loguniform(1e-5,1e-3); lora_r=choice(4,8,16); epochs=int(1,3)"


def test_text_dict_and_yaml_give_the_same_space(tmp_path):
    space = parse_space(TEXT)
    assert space.names == ["lr", "lora_r", "epochs"]
    assert space.params[0] == Param("lr", "float", low=1e-5, high=1e-3, log=True)
    assert space.params[1] == Param("lora_r", "categorical", choices=(4, 8, 16))
    assert space.params[2] == Param("epochs", "int", low=1, high=3)
    as_dict = {
        "lr": "loguniform(1e-5,1e-3)",
        "lora_r": [4, 8, 16],
        "epochs": {"type": "int", "low": 1, "high": 3},
    }
    assert parse_space(as_dict) == space
    yaml_file = tmp_path / "space.yaml"
    yaml_file.write_text("lr: loguniform(1e-5,1e-3)\nlora_r: [4, 8, 16]\nepochs: int(1,3)\n")
    assert parse_space(str(yaml_file)) == space
    assert parse_space(yaml_file) == space
    # round trips: the dict form and the text form
    assert parse_space(space.to_dict()) == space
    assert parse_space(str(space)) == space


def test_more_distributions_and_lines():
    space = parse_space(
        "# a comment\nwd = uniform(0, 0.1)\nsched=choice(linear, 'cosine', true, none)\n"
        "steps=int(10,50,10); k=logint(1,64); d=float(0,1,step=0.25)"
    )
    by = {p.name: p for p in space.params}
    assert by["wd"].kind == "float" and not by["wd"].log
    assert by["sched"].choices == ("linear", "cosine", True, None)
    assert by["steps"].grid() == [10, 20, 30, 40, 50]
    assert by["k"].log and by["k"].kind == "int"
    assert by["d"].grid() == [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize(
    ("text", "token", "words"),
    [
        ("lr=loguniform(1e-5,1e-3; lora_r=choice(4,8)", ";", "Expected ',' or ')'"),
        ("lr=logunif(1e-5,1e-3)", "logunif", "Unknown distribution 'logunif'"),
        ("lr=loguniform(1e-5,1e-3); lora_r choice(4,8)", "choice", "Expected '='"),
        ("epochs=int(1,2.5)", "2.5", "whole numbers"),
        ("lr=uniform(3,1)", "3", "above the upper bound"),
        ("lr=loguniform(0,1)", "0", "above 0"),
        ("r=choice(4,8,4)", "4", "appears twice"),
        ("lr=uniform(1,2) lora_r=choice(1)", "lora_r", "Expected ';'"),
        ("lr=uniform(1,2); lr=uniform(2,3)", "lr", "given twice"),
        ("lr=uniform(1,2) $", "$", "Cannot read"),
    ],
)
def test_bad_text_points_at_the_token(text, token, words):
    with pytest.raises(SpaceError) as info:
        parse_space(text)
    err = info.value
    assert words in str(err)
    assert err.token == token
    assert text[err.position : err.position + len(token)] == token
    # the message shows the text with a caret under the token
    lines = str(err).splitlines()
    assert lines[-2].strip() == text.strip() and lines[-1].index("^") - 2 == err.position


def test_unknown_parameter_is_named_with_the_tunable_ones():
    with pytest.raises(SpaceError) as info:
        parse_space("lr=uniform(0.1,0.2); lora_rank=choice(4,8)", known=["lr", "lora_r"])
    err = info.value
    assert err.param == "lora_rank" and err.position == 21
    assert "Did you mean 'lora_r'" in str(err) and "Tunable parameters: lora_r, lr" in str(err)


@pytest.mark.parametrize("empty", ["", "  ;\n ; ", {}, "# only a comment"])
def test_empty_space(empty):
    with pytest.raises(SpaceError, match="empty"):
        parse_space(empty)


def test_empty_or_bad_yaml_file(tmp_path):
    f = tmp_path / "s.yml"
    f.write_text("")
    with pytest.raises(SpaceError, match="empty"):
        parse_space(str(f))
    f.write_text("- a\n- b\n")
    with pytest.raises(SpaceError, match="not a mapping"):
        parse_space(str(f))
    with pytest.raises(SpaceError, match="does not exist"):
        parse_space(str(tmp_path / "missing.yaml"))


def test_bad_dict_values():
    with pytest.raises(SpaceError, match="lr: cannot use int"):
        parse_space({"lr": 3})
    with pytest.raises(SpaceError, match="unknown type 'normal'"):
        parse_space({"lr": {"type": "normal", "low": 0, "high": 1}})
    with pytest.raises(SpaceError) as info:
        parse_space({"lr": "loguniform(1e-5,"})
    assert info.value.param == "lr"


def test_grid_needs_enumerable_parameters():
    assert parse_space("r=choice(4,8); e=int(1,2)").grid() == {"r": [4, 8], "e": [1, 2]}
    with pytest.raises(SpaceError, match="grid sampler cannot enumerate"):
        parse_space("lr=loguniform(1e-5,1e-3)").grid()


def test_space_suggests_through_optuna():
    import optuna

    space = parse_space(TEXT)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask()
    values = space.suggest(trial)
    assert 1e-5 <= values["lr"] <= 1e-3 and values["lora_r"] in (4, 8, 16)
    assert values["epochs"] in (1, 2, 3)
    assert isinstance(SearchSpace(), SearchSpace) and len(space) == 3
