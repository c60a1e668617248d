"""Generation in shards on Dask workers (``executor.generate_shards``, ``%llmops generate
--executor``, the prompt grid's ``executor=``): the same texts as in this process, in the input
order with no row lost or twice, each worker loading the model once, every shard a child run of
the job's run tagged with its worker, and cache hits never submitted."""

from __future__ import annotations

import socket

import pandas as pd
import pytest
from IPython.core.error import UsageError

from llmops_magics import executor, models, prompts, tracking

PARAMS = models.GenerationParams(max_new_tokens=3, batch_size=8)


def loaded_on_workers(cluster, path) -> dict[str, int]:
    """Per worker: how many copies of the model at ``path`` its process holds."""

    def count(target: str) -> int:
        from llmops_magics.models import _load

        return sum(1 for key in _load._LOADED if key[0] == target)

    from distributed import Client

    with Client(cluster.scheduler_address) as client:
        return client.run(count, str(path))


def test_sharded_generation_equals_local_with_a_child_run_per_shard(
    tiny_model, fresh_workspace, dask_cluster
):
    prompts_ = [f"Tell me about item {i}." for i in range(16)]
    here = models.generate(prompts_, model=str(tiny_model), params=PARAMS, track=False)
    lines: list[str] = []
    there = executor.generate_shards(
        prompts_,
        str(tiny_model),
        PARAMS,
        executor=dask_cluster.scheduler_address,
        say=lines.append,
    )
    assert there.texts == here.texts and there.prompts == prompts_
    assert there.completion_tokens == here.completion_tokens
    assert lines[0].startswith("Dask: 2 worker(s)")
    # every worker loaded the model once and keeps it (4 shards on 2 workers)
    assert set(loaded_on_workers(dask_cluster, tiny_model).values()) <= {0, 1}
    assert sum(loaded_on_workers(dask_cluster, tiny_model).values()) >= 1
    t = tracking.tracker()
    (job,) = t.find_runs(stage="generate")
    assert there.run_id == job.info.run_id
    assert job.data.params["n_prompts"] == "16"
    shards = t.find_runs(filter=f"tags.`{tracking.PARENT_RUN}` = '{job.info.run_id}'")
    assert sorted(r.data.tags[executor.TASK] for r in shards) == ["0", "1", "2", "3"]
    assert {r.data.tags[tracking.WORKER_HOST] for r in shards} == {socket.gethostname()}
    assert {r.data.tags[tracking.WORKER] for r in shards} <= set(
        dask_cluster.scheduler_info["workers"]
    )
    assert {r.info.status for r in shards} == {"FINISHED"}
    assert len(there.trace_ids) == 16 and len(set(there.trace_ids)) == 16


def test_10001_prompts_come_back_in_order_none_lost_or_twice(tiny_model, dask_cluster):
    # prompts of different lengths: each row's prompt-token count, computed on a worker, says
    # which prompt it came from
    prompts_ = [" ".join(["w"] * (1 + i % 7)) for i in range(10_001)]
    out = executor.generate_shards(
        prompts_,
        str(tiny_model),
        models.GenerationParams(max_new_tokens=1, batch_size=1024, chat=False),
        executor=dask_cluster.scheduler_address,
        track=False,
        shards=7,
        say=lambda _: None,
    )
    assert len(out) == len(out.texts) == len(out.completion_tokens) == 10_001
    assert out.prompts == prompts_
    tok = models.load(str(tiny_model)).tokenizer
    assert out.prompt_tokens == [len(ids) for ids in tok(prompts_)["input_ids"]]
    assert len(set(out.prompt_tokens)) == 7


def test_prompt_grid_on_dask_equals_local_and_cache_hits_are_not_submitted(
    tiny_model, fresh_workspace, dask_cluster
):
    frame = pd.DataFrame({"q": [f"question {i}" for i in range(6)]})
    options = {"max_new_tokens": 3, "track": True}
    prompts.run("g1", "Q: {{ q }}", frame, models=[str(tiny_model)], **options)
    here = prompts.run("g1", "Answer: {{ q }}", frame, models=[str(tiny_model)], **options)
    prompts.GenerationCache.for_workspace().clear()  # the Dask run generates every output
    t = tracking.tracker()
    before = {r.info.run_id for r in t.find_runs(stage="generate")}
    there = prompts.run(
        "g1",
        None,
        frame,
        models=[str(tiny_model)],
        versions=[1, 2],
        executor=dask_cluster.scheduler_address,
        **options,
    )
    mine = [(r["example"], r["version"], r["output"]) for r in there.records]
    assert [o for _, v, o in mine if v == 2] == [r["output"] for r in here.records]
    assert not any(r["cached"] for r in there.records)
    (job,) = [r for r in t.find_runs(stage="generate") if r.info.run_id not in before]
    assert job.data.tags[tracking.PROMPT] == "g1"
    shards = t.find_runs(filter=f"tags.`{tracking.PARENT_RUN}` = '{job.info.run_id}'")
    assert len(shards) == 4 and {r.info.status for r in shards} == {"FINISHED"}
    # again: every output is a cache hit, so nothing is submitted and no generate run is made
    again = prompts.run(
        "g1",
        None,
        frame,
        models=[str(tiny_model)],
        versions=[1, 2],
        executor=dask_cluster.scheduler_address,
        **options,
    )
    assert all(r["cached"] for r in again.records) and again.generated == 0
    assert len(t.find_runs(stage="generate")) == len(before) + 1


def test_generate_magic_with_executor(ip, tiny_model, dask_cluster):
    ip.user_ns["qs"] = pd.DataFrame({"q": [f"say {i}" for i in range(10)]})
    out = ip.run_line_magic(
        "llmops",
        f"generate --data qs --column q -m {tiny_model} --max-new-tokens 2 --no-track "
        f"--executor {dask_cluster.scheduler_address}",
    )
    here = models.generate(
        [f"say {i}" for i in range(10)], str(tiny_model), max_new_tokens=2, track=False
    )
    assert out.texts == here.texts and out.run_id is None
    with pytest.raises(UsageError, match="--executor: executor 'dask-local:0': N must be"):
        ip.run_line_magic("llmops", f'generate "hi" -m {tiny_model} --executor dask-local:0')
