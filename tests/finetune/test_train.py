"""LoRA fine-tuning on the tiny model: loss, MLflow run, run:<id>, exact resume, stop button."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from llmops_magics import finetune, models, tracking
from llmops_magics.errors import DataError, ModelNotFoundError
from llmops_magics.finetune import FineTuneConfig, FineTuneError

# --- training, tracking, run:<id> ---------------------------------------------------------


def test_loss_falls_and_the_run_is_tracked(trained, tiny_model, pairs):
    result, _ = trained
    assert result.status == "finished" and result.global_step == 10
    hist = result.history
    assert list(hist["step"]) == list(range(1, 11))
    assert hist["train_loss"].iloc[-3:].mean() < hist["train_loss"].iloc[:3].mean() - 0.5
    evals = hist.dropna(subset=["eval_loss"])
    assert list(evals["step"]) == [5, 10]
    assert evals["eval_loss"].iloc[-1] < evals["eval_loss"].iloc[0]
    assert result.eval_loss == pytest.approx(evals["eval_loss"].iloc[-1])
    assert result.spec == f"run:{result.run_id}"

    t = tracking.tracker()
    run = t.get_run(result.run_id, stage="finetune")
    assert run.info.status == "FINISHED"
    tags, params = run.data.tags, run.data.params
    assert tags[tracking.STAGE] == "finetune" and tags[tracking.STATUS] == "finished"
    assert tags[tracking.BASE_MODEL] == str(tiny_model)
    assert tags[tracking.BASE_MODEL_HASH] == models.resolve(str(tiny_model)).content_hash
    assert len(tags[tracking.BASE_MODEL_HASH]) == 64
    from llmops_magics.finetune._data import data_hash

    assert tags[tracking.DATA_HASH] == data_hash(pairs())
    assert tags[tracking.EVAL_DATA_HASH] == data_hash(pairs(8))
    assert tags[tracking.SEED] == "0" and tags[tracking.METHOD] == "sft"
    assert tags[tracking.CHECKPOINT_DIR] == result.checkpoint_dir
    assert tags[tracking.OWNER_PID] == str(os.getpid())  # an owned run: liveness is known
    assert params["lora_r"] == "8" and params["lr"] == "0.005"
    assert params["target_modules_used"] == "q_proj,v_proj"
    losses = t.metric_history(result.run_id, "train_loss")
    assert sorted(m.step for m in losses) == list(range(1, 11))
    assert [m.step for m in t.metric_history(result.run_id, "final_eval_loss")] == [10]
    names = {a.path for a in t.list_artifacts(result.run_id)}
    assert {"adapter", "tokenizer", "finetune_config.json", "history.csv"} <= names
    adapter = {Path(a.path).name for a in t.list_artifacts(result.run_id, "adapter")}
    assert {"adapter_model.safetensors", "adapter_config.json"} <= adapter
    import json

    cfg = json.loads((Path(result.adapter_dir) / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == str(tiny_model)
    assert (Path(result.checkpoint_dir) / "train.jsonl").exists()
    leftovers = [p.name for p in Path(result.checkpoint_dir).iterdir() if p.name.startswith(".")]
    assert leftovers == []  # atomic writes leave no temporary files behind
    inputs = {d.dataset.name for d in run.inputs.dataset_inputs}
    assert inputs == {"finetune-training", "finetune-evaluation"}


def test_run_spec_reloads_the_adapter_with_the_same_logits(trained, workspace):
    import torch
    from accelerate.utils import extract_model_from_parallel

    result, model = trained
    # training ran under bf16 autocast, which accelerate patched into forward(); unpatch it
    model = extract_model_from_parallel(model, keep_fp32_wrapper=False)
    ref = models.resolve(result.spec)
    assert ref.kind == "run" and ref.is_adapter and ref.meta["run_id"] == result.run_id
    loaded = models.load(result.spec)
    ids = loaded.tokenizer("What does the model do 3?", return_tensors="pt").input_ids
    model.eval()
    with torch.no_grad():
        expected = model(input_ids=ids).logits
        got = loaded.model(input_ids=ids).logits
        base = models.load(ref.base).model(input_ids=ids).logits
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got, base, atol=1e-3)  # the adapter changes the model
    out = models.generate(["What does the model do 3?"], model=result.spec, max_new_tokens=4)
    assert out.model == result.spec and len(out.texts) == 1


def test_run_spec_errors(trained, workspace):
    with pytest.raises(ModelNotFoundError, match="no run 'nope'"):
        models.resolve("run:nope")
    t = tracking.tracker()
    with t.start_run("generate") as bare:
        pass
    with pytest.raises(ModelNotFoundError, match="logged no adapter"):
        models.resolve(f"run:{bare.id}")
    live = t.start_run("generate")
    with pytest.raises(ModelNotFoundError, match="still running"):
        models.resolve(f"run:{live.id}")
    live.end()


def test_result_renders_and_is_data(trained):
    result, _ = trained
    html = result._repr_html_()
    assert result.run_id in html and "train_loss" in html
    data = result.to_dict()
    assert data["history"][0]["step"] == 1 and data["status"] == "finished"
    assert "finished at step 10/10" in repr(result)
    fig = result.plot()
    assert len(fig.axes[0].lines) == 2


def test_a_callback_can_stop_the_run(pairs, ft_config, workspace):
    from transformers import TrainerCallback

    class Prune(TrainerCallback):
        def on_evaluate(self, args, state, control, metrics=None, **kw):
            assert "eval_loss" in metrics
            control.should_training_stop = True

    t = tracking.tracker()
    with t.start_run("sweep", name="sweep") as parent:
        result = finetune.train(
            ft_config(eval_steps=3),
            pairs(),
            pairs(4),
            callbacks=[Prune()],
            parent_run_id=parent.id,
            run_name="trial 0",
            tags={"sweep": "s1"},
            progress=False,
        )
    assert result.status == "stopped" and result.global_step == 3
    run = t.get_run(result.run_id)
    assert run.data.tags[tracking.PARENT_RUN] == parent.id
    assert run.data.tags["sweep"] == "s1" and run.data.tags[tracking.STATUS] == "stopped"
    assert run.info.run_name == "trial 0"


def test_a_failure_ends_the_run_failed_with_its_error(pairs, ft_config, workspace):
    from transformers import TrainerCallback

    class Broken(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 2:
                raise RuntimeError("out of memory")

    with pytest.raises(FineTuneError, match="Training failed at step 2: out of memory"):
        finetune.train(ft_config(), pairs(), callbacks=[Broken()], progress=False)
    run = tracking.tracker().find_runs(stage="finetune", limit=1)[0]
    assert run.info.status == "FAILED"
    assert run.data.tags[tracking.STATUS] == "failed"
    assert "out of memory" in run.data.tags[tracking.ERROR]


def test_a_bad_progress_option_starts_no_run(pairs, ft_config, workspace):
    t = tracking.tracker()
    before = len(t.find_runs(stage="finetune"))
    with pytest.raises(ValueError, match="progress must be"):
        finetune.train(ft_config(max_steps=1), pairs(), progress="loud")
    assert len(t.find_runs(stage="finetune")) == before


def test_plain_progress_prints_log_lines(pairs, ft_config, workspace, capsys):
    finetune.train(ft_config(max_steps=4, eval_steps=2), pairs(), pairs(4), progress="plain")
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[sft ")]
    assert lines[0].endswith("training 4 steps")
    assert [ln.split("] ")[1].split(" · ")[0] for ln in lines[1:-1]] == [
        "step 1/4",
        "step 2/4",
        "step 2/4",  # the evaluation gets its own line
        "step 3/4",
        "step 4/4",
        "step 4/4",
    ]
    assert "eval_loss" in lines[3] and "tok/s" in lines[2] and "left" in lines[2]
    assert "finished: step 4/4 · model spec run:" in lines[-1]


# --- interrupt and resume -----------------------------------------------------------------


def _interrupt_at(step: int):
    from transformers import TrainerCallback

    class Boom(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == step:
                raise KeyboardInterrupt

    return Boom()


def test_interrupt_then_resume_equals_an_uninterrupted_run(pairs, ft_config, workspace):
    import torch
    from safetensors.torch import load_file

    cfg = ft_config(max_steps=8, lora_dropout=0.1, save_steps=100)
    full = finetune.train(cfg, pairs(), pairs(4), progress=False)
    part = finetune.train(cfg, pairs(), pairs(4), callbacks=[_interrupt_at(3)], progress=False)
    assert part.status == "interrupted" and part.global_step == 3
    t = tracking.tracker()
    run = t.get_run(part.run_id)
    assert run.info.status == "KILLED" and run.data.tags[tracking.STATUS] == "interrupted"
    assert (Path(part.checkpoint_dir) / "checkpoint-3" / "optimizer.pt").exists()
    assert "--resume" in repr(part)
    models.resolve(part.spec)  # the work so far is usable as a model

    resumed = finetune.resume(part.run_id, progress=False)
    assert resumed.run_id == part.run_id and resumed.status == "finished"
    assert resumed.global_step == 8
    assert t.get_run(part.run_id).data.tags["llmops.resumed_from_step"] == "3"
    a = load_file(Path(full.adapter_dir) / "adapter_model.safetensors")
    b = load_file(Path(resumed.adapter_dir) / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # the history holds the first session's steps too (step 3 was never logged: the
    # KeyboardInterrupt came from its on_step_end, before the Trainer logged it)
    assert list(resumed.history["step"]) == [1, 2, 4, 5, 6, 7, 8]
    assert resumed.history["train_loss"].iloc[-1] == pytest.approx(
        full.history["train_loss"].iloc[-1]
    )
    with pytest.raises(FineTuneError, match="already finished"):
        finetune.resume(part.run_id, progress=False)


def test_stop_button_stops_after_the_step(pairs, ft_config, workspace):
    from transformers import TrainerCallback

    class Press(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            if state.global_step == 2:
                os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)  # whatever earlier tests left, it comes back
    result = finetune.train(ft_config(max_steps=6), pairs(), callbacks=[Press()], progress=False)
    assert result.status == "interrupted" and result.global_step == 3
    assert list(result.history["step"]) == [1, 2, 3]  # the last step was logged, not lost
    assert (Path(result.checkpoint_dir) / "checkpoint-3").is_dir()
    assert signal.getsignal(signal.SIGINT) is before


def test_resume_refuses_other_data_and_unknown_runs(pairs, ft_config, workspace):
    part = finetune.train(
        ft_config(max_steps=4), pairs(), callbacks=[_interrupt_at(1)], progress=False
    )
    with pytest.raises(DataError, match="differs"):
        finetune.resume(part.run_id, data=pairs(10), progress=False)
    with pytest.raises(FineTuneError, match="No finetune run '0123456789abcdef'"):
        finetune.resume("0123456789abcdef", progress=False)
    with tracking.tracker().start_run("eval") as other:
        pass
    with pytest.raises(FineTuneError, match="is not a finetune run"):
        finetune.resume(f"run:{other.id}", progress=False)


def test_a_run_whose_process_died_can_be_resumed(pairs, ft_config, workspace):
    """A killed kernel leaves its run RUNNING; resume tells a dead owner from a live one."""
    part = finetune.train(
        ft_config(max_steps=4, save_steps=2), pairs(), callbacks=[_interrupt_at(3)], progress=False
    )
    t = tracking.tracker()
    t.resume_run(part.run_id)  # the store as a kill -9 after step 3 would leave it
    t.set_tags(part.run_id, {tracking.STATUS: "running"})
    with pytest.raises(FineTuneError, match="still running"):
        finetune.resume(part.run_id, progress=False)  # its owner (this process) lives
    t.set_tags(part.run_id, {tracking.OWNER_PID: "999999999", tracking.OWNER_START: "1"})
    resumed = finetune.resume(part.run_id, progress=False)
    assert resumed.status == "finished" and resumed.global_step == 4
    run = t.get_run(part.run_id)
    assert run.info.status == "FINISHED" and run.data.tags[tracking.OWNER_PID] == str(os.getpid())


# --- the embedded model -------------------------------------------------------------------


@pytest.mark.slow
def test_smollm2_eval_loss_falls_on_chatterbot(fresh_workspace):
    from llmops_magics.data import load_dataset

    frame = load_dataset("chatterbot", limit=44, seed=0)
    train, evals = frame.iloc[:32], frame.iloc[32:]
    cfg = FineTuneConfig(
        model="smollm2",
        prompt_col="question",
        response_col="answer",
        max_steps=8,
        eval_steps=4,
        batch_size=4,
        max_length=64,
        lr=1e-3,
    )
    result = finetune.train(cfg, train, evals, progress=False)
    evals_loss = result.history.dropna(subset=["eval_loss"])["eval_loss"].tolist()
    assert len(evals_loss) == 2
    assert evals_loss[-1] < evals_loss[0]
    assert result.status == "finished" and result.global_step == 8
    assert result.precision == finetune.resolve_precision("auto")
    # under bf16 only the frozen base is bf16: the trained LoRA weights are saved in float32
    from safetensors.torch import load_file

    saved = load_file(str(Path(result.adapter_dir) / "adapter_model.safetensors"))
    assert saved and {str(t.dtype) for t in saved.values()} == {"torch.float32"}
