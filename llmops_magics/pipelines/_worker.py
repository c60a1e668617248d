"""One variant of a batch run, in its own process: ``python -m llmops_magics.pipelines._worker
JOB.json``. Progress goes to standard output line by line; the outcome to the job's result file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(job_path: str) -> int:
    """Run the job described in ``job_path``; 0 when the pipeline finished."""
    from llmops_magics import workspace
    from llmops_magics.errors import LlmopsError
    from llmops_magics.files import atomic_write
    from llmops_magics.pipelines._errors import StageFailedError
    from llmops_magics.pipelines._grid import _result_dict
    from llmops_magics.pipelines._runner import run_pipeline

    job = json.loads(Path(job_path).read_text())
    workspace.use(job["workspace"])
    out = Path(job["result"])

    def failed(error: str, short: str) -> int:
        atomic_write(out, json.dumps({"status": "failed", "error": error, "short": short}))
        print(f"FAILED {error}", flush=True)
        return 1

    try:
        result = run_pipeline(
            job["pipeline"],
            params=job["params"],
            force=job["force"],
            progress=False,
            track=job["track"],
            folder=job["folder"],
            log=lambda m: print(m, flush=True),
        )
    except StageFailedError as exc:
        return failed(str(exc), f"{exc.stage}: {exc.reason}")
    except LlmopsError as exc:
        return failed(str(exc), str(exc))
    atomic_write(out, json.dumps({"status": "finished", **_result_dict(result)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
