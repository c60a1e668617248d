"""The stage cache: entries appear whole or not at all, one lock per key, leftovers cleaned."""

from __future__ import annotations

import os
import threading
import time

import pytest

from llmops_magics.pipelines._cache import StageCache, stage_key


def _build(cache: StageCache, key: str, text: str) -> None:
    with cache.build(key) as folder:
        (folder / "notebook.ipynb").write_text(text)
        cache.write_meta(folder, {"stage": "s", "files": []})


def test_an_entry_appears_when_its_stage_succeeds(tmp_path):
    cache = StageCache(tmp_path / "cache")
    assert cache.get("k") is None
    _build(cache, "k", "first")
    entry = cache.get("k")
    assert entry is not None and entry.notebook.read_text() == "first"
    assert entry.meta() == {"stage": "s", "files": []}
    _build(cache, "k", "second")  # a forced re-run replaces it
    assert cache.get("k").notebook.read_text() == "second"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["k"]


def test_a_failed_stage_leaves_nothing(tmp_path):
    cache = StageCache(tmp_path / "cache")
    _build(cache, "k", "old")
    with pytest.raises(RuntimeError), cache.build("k") as folder:
        (folder / "notebook.ipynb").write_text("half")
        raise RuntimeError("the kernel died")
    assert cache.get("k").notebook.read_text() == "old"  # the old entry is untouched
    with pytest.raises(RuntimeError), cache.build("new") as folder:
        raise RuntimeError("no")
    assert cache.get("new") is None
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["k"]


def test_an_entry_without_meta_or_with_a_lost_file_is_missing(tmp_path):
    cache = StageCache(tmp_path / "cache")
    with cache.build("k") as folder:
        (folder / "notebook.ipynb").write_text("x")
    assert cache.get("k") is None  # no meta.json: not done
    data = tmp_path / "data.parquet"
    data.write_text("x")
    with cache.build("k") as folder:
        (folder / "notebook.ipynb").write_text("x")
        cache.write_meta(folder, {"files": [str(data)]})
    assert cache.get("k") is not None
    data.unlink()
    assert cache.get("k") is None


def test_the_lock_of_a_key_serialises_its_holders(tmp_path):
    cache = StageCache(tmp_path / "cache")
    order: list[str] = []

    def hold(name: str) -> None:
        with cache.lock("k"):
            order.append(f"{name} in")
            time.sleep(0.05)
            order.append(f"{name} out")

    threads = [threading.Thread(target=hold, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
    assert (tmp_path / "cache" / ".locks" / "k.lock").is_file()


def test_leftovers_of_killed_runs_are_cleaned(tmp_path):
    cache = StageCache(tmp_path / "cache")
    old = tmp_path / "cache" / ".k-abc.partial"
    recent = tmp_path / "cache" / ".j-def.partial"
    for folder in (old, recent):
        folder.mkdir(parents=True)
    os.utime(old, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    cache.clean_scratch()
    assert not old.exists() and recent.exists()  # a running stage's folder stays


def test_the_key_changes_with_each_part():
    base = {"template_digest": "t", "params": {"n": 1}, "upstream": {}, "env": {"python": "3"}}
    key = stage_key(**base)
    assert key == stage_key(**base) and len(key) == 24
    for change in (
        {"template_digest": "u"},
        {"params": {"n": 2}},
        {"upstream": {"a": {"x": 1}}},
        {"env": {"python": "4"}},
    ):
        assert stage_key(**{**base, **change}) != key
