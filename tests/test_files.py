"""Atomic writes and the inter-process lock."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from llmops_magics.files import atomic_dir, atomic_file, atomic_write, file_lock


def test_atomic_write_replaces_and_leaves_no_partial(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write(target, "one")
    atomic_write(target, b"two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as handle:
        handle.write("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_dir_swaps_in_a_whole_folder_or_nothing(tmp_path):
    dest = tmp_path / "model"
    with atomic_dir(dest) as tmp:
        (tmp / "w.bin").write_bytes(b"1")
    assert (dest / "w.bin").read_bytes() == b"1"
    with pytest.raises(ValueError), atomic_dir(dest) as tmp:
        (tmp / "w.bin").write_bytes(b"2")
        raise ValueError("crash")
    assert (dest / "w.bin").read_bytes() == b"1"
    with atomic_dir(dest) as tmp:
        (tmp / "x.bin").write_bytes(b"3")
    assert sorted(p.name for p in dest.iterdir()) == ["x.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    with pytest.raises(FileExistsError), atomic_dir(dest, replace=False):
        pass
    assert (dest / "x.bin").exists()


def _hold(path: str, log: str, name: str) -> None:
    with file_lock(path):
        with open(log, "a") as handle:
            handle.write(f"{name} in\n")
        time.sleep(0.3)
        with open(log, "a") as handle:
            handle.write(f"{name} out\n")


def test_file_lock_serialises_processes(tmp_path):
    lock, log = str(tmp_path / "x.lock"), str(tmp_path / "log")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hold, args=(lock, log, n)) for n in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    with open(log) as handle:
        lines = handle.read().split()
    # each "in" is followed by its own "out": the critical sections never overlap
    assert len(lines) == 8
    pairs = [lines[i : i + 4] for i in (0, 4)]
    for first, _, second, _ in pairs:
        assert first == second
    assert os.path.exists(lock)
