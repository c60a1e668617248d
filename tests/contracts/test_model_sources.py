"""Every ModelSource keeps one contract (one shared test class, as Optuna's storage tests).

A source implementation joins by subclassing :class:`ModelSourceContract` and providing the
``case`` fixture: the source, a spec it resolves, one of its specs that must fail, and the kind
it reports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmops_magics import models, tracking
from llmops_magics.errors import ModelNotFoundError
from llmops_magics.models import ModelRef, ModelSource
from llmops_magics.testing import make_tiny_adapter

ENTRY_KEYS = {"name", "kind", "location", "status", "description"}


@dataclass
class Case:
    source: ModelSource
    spec: str
    bad_spec: str
    kind: str
    is_adapter: bool = False
    is_remote: bool = False


class ModelSourceContract:
    """The behaviour every model source must have."""

    @pytest.fixture
    def case(self) -> Case:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    def test_it_handles_its_specs_and_not_others(self, case: Case) -> None:
        assert case.source.handles(case.spec)
        assert not case.source.handles("no-such-scheme:xyz")

    def test_a_spec_resolves_to_a_local_folder_of_its_kind(self, case: Case) -> None:
        ref = case.source.resolve(case.spec)
        assert isinstance(ref, ModelRef)
        assert ref.spec == case.spec
        assert ref.kind == case.kind
        assert ref.is_remote == case.is_remote
        if ref.is_remote:  # a model behind an endpoint has no folder here
            assert ref.endpoint and ref.endpoint in case.spec
            return
        assert ref.path.is_dir()
        marker = "adapter_config.json" if case.is_adapter else "config.json"
        assert (ref.path / marker).is_file()
        assert ref.is_adapter == case.is_adapter
        if ref.is_adapter:
            assert models.resolve(ref.base).path.is_dir()

    def test_resolution_is_stable_and_identified(self, case: Case) -> None:
        first, second = case.source.resolve(case.spec), case.source.resolve(case.spec)
        assert first.path == second.path
        assert first.identity == second.identity
        assert re.fullmatch(r"[0-9a-f]{64}", first.content_hash)
        assert first.content_hash == second.content_hash

    def test_the_registry_routes_the_spec_to_this_source(self, case: Case) -> None:
        assert models.resolve(case.spec).identity == case.source.resolve(case.spec).identity

    def test_a_bad_spec_of_its_kind_names_the_spec(self, case: Case) -> None:
        with pytest.raises(ModelNotFoundError) as info:
            models.resolve(case.bad_spec)
        assert case.bad_spec in str(info.value)

    def test_entries_have_the_listing_columns(self, case: Case) -> None:
        for row in case.source.entries():
            assert set(row) == ENTRY_KEYS
            assert all(isinstance(v, str) for v in row.values())

    def test_the_model_loads_and_generates(self, case: Case) -> None:
        if case.kind == "embedded":
            pytest.skip("generation with the real model is covered by the slow model tests")
        out = models.generate(["What is AI?"], model=case.spec, max_new_tokens=3, track=False)
        assert len(out.texts) == 1 and out.completion_tokens[0] <= 3


def _by_name(name: str) -> ModelSource:
    return dict(models.sources())[name]


class TestLocalFolder(ModelSourceContract):
    @pytest.fixture
    def case(self, tiny_model: Path, tmp_path: Path) -> Case:
        return Case(_by_name("local"), str(tiny_model), str(tmp_path), "local")


class TestLocalAdapterFolder(ModelSourceContract):
    @pytest.fixture
    def case(self, tiny_model: Path, tmp_path: Path) -> Case:
        adapter = make_tiny_adapter(tiny_model, tmp_path / "adapter", seed=1)
        broken = tmp_path / "broken"
        broken.mkdir()
        (broken / "adapter_config.json").write_text(json.dumps({"r": 4}))
        return Case(_by_name("local"), adapter, str(broken), "adapter", is_adapter=True)


class TestFineTuneRun(ModelSourceContract):
    """``run:<id>``: a real run in the workspace's store whose artifacts hold an adapter."""

    @pytest.fixture
    def case(self, tiny_model: Path, tmp_path: Path, fresh_workspace: Path) -> Case:
        adapter = make_tiny_adapter(tiny_model, tmp_path / "adapter", seed=2)
        t = tracking.tracker()
        with t.start_run("finetune", tags={tracking.BASE_MODEL: str(tiny_model)}) as run:
            run.log_artifacts(adapter, "adapter")
        with t.start_run("eval") as other:
            pass
        return Case(_by_name("run"), f"run:{run.id}", f"run:{other.id}", "run", is_adapter=True)


@pytest.mark.slow
class TestEmbedded(ModelSourceContract):
    @pytest.fixture
    def case(self) -> Case:
        return Case(_by_name("embedded"), "smollm2", "smollm3", "embedded")

    def test_a_bad_spec_of_its_kind_names_the_spec(self, case: Case) -> None:
        assert not case.source.handles(case.bad_spec)  # an unknown name falls through
        super().test_a_bad_spec_of_its_kind_names_the_spec(case)


@pytest.fixture(scope="module")
def openai_endpoint(tiny_model: Path) -> Iterator[str]:
    """Our own server on loopback, serving the tiny model as ``tiny``."""
    from llmops_magics import serving

    server = serving.serve([f"tiny={tiny_model}"], port=0, track=False, refresh_s=0)
    yield server.url
    server.stop()


class TestOpenAIEndpoint(ModelSourceContract):
    """``openai:NAME@BASE_URL``, called through the openai client."""

    @pytest.fixture
    def case(self, openai_endpoint: str) -> Case:
        return Case(
            _by_name("openai"),
            f"openai:tiny@{openai_endpoint}",
            f"openai:nope@{openai_endpoint}",
            "openai",
            is_remote=True,
        )
