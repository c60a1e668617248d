"""The generation cache: shared safely by processes."""

from __future__ import annotations

import subprocess
import sys

from llmops_magics.prompts import GenerationCache


def test_cache_is_shared_safely_by_two_processes(tmp_path):
    path = tmp_path / "prompts.sqlite"
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from llmops_magics.prompts._cache import CachedGeneration, GenerationCache\n"
        "cache = GenerationCache(Path(sys.argv[1]))\n"
        "for i in range(150):\n"
        "    g = CachedGeneration(f'{sys.argv[2]}{i}', 1, 2, 0.1, None, None)\n"
        "    cache.put_many([(f'{sys.argv[2]}{i}', 'm', 'p', g)])\n"
        "    assert cache.get_many([f'{sys.argv[2]}{i}'])\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path), tag], stderr=subprocess.PIPE)
        for tag in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
    cache = GenerationCache(path)
    assert len(cache) == 300
    assert cache.get_many(["a7"])["a7"].output == "a7"
