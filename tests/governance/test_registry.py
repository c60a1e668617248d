"""Registering specs as versions of MLflow registered models, looking versions up by number or
alias, and ``models:/`` specs wherever a model is named."""

from __future__ import annotations

import pytest

from llmops_magics import governance, models, tracking
from llmops_magics.errors import ModelNotFoundError


def test_register_a_fine_tune_run_links_run_logged_model_and_lineage(adapter_run, monkeypatch):
    spec = adapter_run(seed=3, data_hash="a" * 64)
    monkeypatch.setenv("LLMOPS_USER", "alice")
    v = governance.register(spec, "reg-bot")
    assert (v.name, v.version, v.source, v.author) == ("reg-bot", "1", spec, "alice")
    assert v.run_id == spec.removeprefix("run:")
    assert v.tags[tracking.DATA_HASH] == "a" * 64
    assert v.tags[tracking.SEED] == "3"
    assert v.tags[tracking.PROMPT_VERSION] == "support/2"
    assert len(v.tags[tracking.BASE_MODEL_HASH]) == 64
    # MLflow 3: the version was registered from a LoggedModel made from the run
    reg = tracking.model_registry()
    logged = reg.client.get_logged_model(v.tags[tracking.LOGGED_MODEL])
    assert logged.source_run_id == v.run_id
    assert reg.get_version("reg-bot", "1").source == f"models:/{logged.model_id}"
    # the registration is the first record of the audit trail
    (record,) = governance.records("reg-bot")
    assert (record.kind, record.user, record.payload["version"]) == ("register", "alice", "1")


def test_register_the_base_and_look_up_versions_and_aliases(adapter_run, tiny_model):
    spec = adapter_run(seed=1)
    first = governance.register(spec, "look-bot", author="bob")
    base = governance.register(str(tiny_model), "look-bot", author="bob")
    assert base.version == "2" and base.run_id is None
    assert base.tags[tracking.BASE_MODEL] == str(tiny_model)
    assert base.tags[tracking.BASE_MODEL_HASH] == models.resolve(str(tiny_model)).content_hash
    tracking.model_registry().set_alias("look-bot", "champion", "1")
    assert governance.get_version("look-bot", "champion") == governance.get_version("look-bot", 1)
    assert governance.get_version("look-bot", "champion").aliases == ("champion",)
    assert [v.aliases for v in governance.versions("look-bot")] == [("champion",), ()]
    assert first.spec == "models:/look-bot/1"
    listing = governance.list_models("look-bot", gates=False).to_frame()
    assert listing["version"].tolist() == ["1", "2"]
    assert listing["aliases"].tolist() == ["@champion", ""]
    every = governance.list_models(gates=False).to_frame().set_index("model")
    assert every.loc["look-bot", "versions"] == 2
    assert every.loc["look-bot", "aliases"] == "@champion=1"


def test_models_specs_resolve_to_the_registered_weights(adapter_run):
    spec = adapter_run(seed=2)
    governance.register(spec, "spec-bot", author="carol")
    tracking.model_registry().set_alias("spec-bot", "live", "1")
    direct = models.resolve(spec)
    for registered in ("models:/spec-bot/1", "models:/spec-bot@live"):
        ref = models.resolve(registered)
        assert (ref.kind, ref.spec, ref.path, ref.base) == (
            "registered",
            registered,
            direct.path,
            direct.base,
        )
        assert ref.content_hash == direct.content_hash
        assert ref.meta["registered_version"] == "1"
    assert models.resolve("models:/spec-bot@live").meta["alias"] == "live"


def test_generate_runs_on_a_registered_alias(adapter_run):
    spec = adapter_run(seed=4)
    governance.register(spec, "gen-bot", author="dan")
    tracking.model_registry().set_alias("gen-bot", "champion", "1")
    got = models.generate(["hello"], model="models:/gen-bot@champion", max_new_tokens=4)
    want = models.generate(["hello"], model=spec, max_new_tokens=4)
    assert got.texts == want.texts


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("models:/no-such-model/1", "no registered model 'no-such-model'"),
        ("models:/bad-bot/7", r"no version 7 \(its versions: 1\)"),
        ("models:/bad-bot@nope", "no alias 'nope'"),
        ("models:/bad-bot", "models:/NAME/VERSION"),
        ("models:/bad-bot/0", "models:/NAME/VERSION"),
    ],
)
def test_unknown_model_version_or_alias_in_a_spec(adapter_run, spec, message):
    if governance.list_models(gates=False).to_frame().query("model == 'bad-bot'").empty:
        governance.register(adapter_run(), "bad-bot", author="erin")
    with pytest.raises(ModelNotFoundError, match=message):
        models.resolve(spec)


def test_unknown_model_version_or_alias_by_name(adapter_run):
    governance.register(adapter_run(), "lookup-bot", author="erin")
    with pytest.raises(governance.RegistryLookupError, match="no registered model 'ghost'"):
        governance.get_version("ghost", 1)
    with pytest.raises(governance.RegistryLookupError, match=r"no version 3.*versions: 1"):
        governance.get_version("lookup-bot", 3)
    with pytest.raises(governance.RegistryLookupError, match=r"no alias 'champion'"):
        governance.get_version("lookup-bot", "champion")
    with pytest.raises(governance.RegistryLookupError, match="not a registered model name"):
        governance.get_version("a/b", 1)


def test_bad_registrations_store_nothing(adapter_run):
    with pytest.raises(governance.GovernanceError, match="cannot be a registered model name"):
        governance.register(adapter_run(), "no spaces")
    with pytest.raises(ModelNotFoundError):
        governance.register("run:0123456789abcdef", "nothing-bot")
    with pytest.raises(governance.GovernanceError, match="registered already"):
        governance.register("models:/x/1", "nothing-bot")
    with tracking.tracker().start_run("eval") as run:  # a run without an adapter
        pass
    with pytest.raises(ModelNotFoundError, match="logged no adapter"):
        governance.register(f"run:{run.id}", "nothing-bot")
    assert tracking.model_registry().get_model("nothing-bot") is None


def test_finetune_resume_takes_a_registered_version(adapter_run):
    from llmops_magics import finetune

    spec = adapter_run(seed=6)
    governance.register(spec, "resume-bot", author="erin")
    run_id = spec.removeprefix("run:")
    # the version's run is found (it kept no checkpoints, so there is nothing to resume)
    with pytest.raises(finetune.FineTuneError, match=f"The run '{run_id}' is not a fine-tuning"):
        finetune.resume("models:/resume-bot/1")


def test_an_alias_that_moves_resolves_to_the_new_weights(adapter_run):
    """What a server's re-resolve sees: the alias's spec names other weights after a move."""
    first, second = adapter_run(seed=7), adapter_run(seed=8)
    for spec in (first, second):
        governance.register(spec, "moving-bot", author="erin")
    reg = tracking.model_registry()
    reg.set_alias("moving-bot", "champion", "1")
    before = models.resolve("models:/moving-bot@champion")
    reg.set_alias("moving-bot", "champion", "2")
    after = models.resolve("models:/moving-bot@champion")
    assert before.identity != after.identity
    assert (before.content_hash, after.content_hash) == (
        models.resolve(first).content_hash,
        models.resolve(second).content_hash,
    )
    assert after.meta["registered_version"] == "2"
