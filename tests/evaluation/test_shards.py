"""Evaluation of a frame in shards on Dask workers: the same predictions and statistics as in
this process, in the input order; each shard a child run of the generation, tagged with its
worker."""

from __future__ import annotations

import numpy as np
import pandas as pd

from llmops_magics import evaluation, tracking


def test_sharded_eval_equals_local(tiny_model, fresh_workspace, dask_cluster):
    frame = pd.DataFrame(
        {
            "question": [f"What is item {i}?" for i in range(24)],
            "answer": [f"Item {i} is a thing number {i}." for i in range(24)],
        }
    )
    options = {
        "metrics": "exact_match,chrf,perplexity",
        "bootstrap": 0,
        "max_new_tokens": 4,
        "batch_size": 1,
        "precision": "fp32",
    }
    here = evaluation.evaluate(frame, str(tiny_model), track=False, **options)
    there = evaluation.evaluate(
        frame, str(tiny_model), executor=dask_cluster.scheduler_address, **options
    )
    columns = ("row", "prompt", "prediction", "reference")
    assert [tuple(r[c] for c in columns) for r in there.rows] == [
        tuple(r[c] for c in columns) for r in here.rows
    ]
    for name in ("exact_match", "chrf", "perplexity"):
        a, b = here.stats[str(tiny_model)][name], there.stats[str(tiny_model)][name]
        assert a.shape == b.shape and np.allclose(a, b, rtol=1e-4), name
    t = tracking.tracker()
    generation = t.find_runs(stage="generate")
    assert len(generation) == 1
    shards = t.find_runs(filter=f"tags.`{tracking.PARENT_RUN}` = '{generation[0].info.run_id}'")
    assert len(shards) == 4  # two per worker
    assert {r.data.tags[tracking.WORKER] for r in shards} <= set(
        dask_cluster.scheduler_info["workers"]
    )
    assert {r.info.status for r in shards} == {"FINISHED"}
