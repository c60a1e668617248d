"""LoRA fine-tuning on the tiny model: loss, MLflow run, run:<id>, exact resume, bad input."""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

import pytest

from llmops_magics import finetune, models, workspace
from llmops_magics.errors import DataError, ModelNotFoundError
from llmops_magics.finetune import FineTuneConfig, FineTuneConfigError, FineTuneError


def _pairs(n: int = 24):
    import pandas as pd

    return pd.DataFrame(
        {
            "q": [f"What does the model do {i}?" for i in range(n)],
            "a": [f"The model learns short questions {i % 3}." for i in range(n)],
        }
    )


def _config(tiny_model: Path, **changes) -> FineTuneConfig:
    base = {
        "model": str(tiny_model),
        "prompt_col": "q",
        "response_col": "a",
        "max_steps": 10,
        "eval_steps": 5,
        "save_steps": 100,
        "lr": 5e-3,
        "batch_size": 4,
    }
    return FineTuneConfig(**(base | changes))


def _client():
    return workspace._mlflow().MlflowClient(workspace.current().tracking_uri)


class _KeepModel:
    """A callback that keeps the trained model (to compare with the reloaded adapter)."""

    def __new__(cls):
        from transformers import TrainerCallback

        class Keep(TrainerCallback):
            model = None

            def on_train_end(self, args, state, control, model=None, **kw):
                Keep.model = model

        return Keep()


@pytest.fixture(scope="module")
def trained(tiny_model, shared_workspace):
    workspace.use(shared_workspace)
    keep = _KeepModel()
    result = finetune.train(
        _config(tiny_model), _pairs(), _pairs(8), callbacks=[keep], progress=False
    )
    yield result, type(keep).model
    workspace.use(None)


# --- config -------------------------------------------------------------------------------


def test_config_round_trips_through_json(tiny_model):
    cfg = _config(tiny_model, target_modules="q_proj, v_proj", seed=3)
    assert cfg.target_modules == ["q_proj", "v_proj"]
    again = FineTuneConfig.from_json(cfg.to_json())
    assert again == cfg
    assert json.loads(cfg.to_json())["lora_r"] == 8
    with pytest.raises(FineTuneConfigError, match="Unknown FineTuneConfig field"):
        FineTuneConfig.from_dict({"lora_rank": 4})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lr": 0.0}, "lr"),
        ({"lr": -1e-4}, "lr"),
        ({"lr": 3.0}, "lr"),
        ({"lr": math.nan}, "lr"),
        ({"lora_r": 0}, "lora_r"),
        ({"lora_r": 100000}, "lora_r"),
        ({"lora_dropout": 1.0}, "lora_dropout"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_length": 2}, "max_length"),
        ({"precision": "int8"}, "precision"),
        ({"text_col": "q"}, "text_col"),
        ({"response_col": None}, "response_col"),
    ],
)
def test_config_out_of_range_names_the_field(tiny_model, changes, field):
    with pytest.raises(FineTuneConfigError) as info:
        _config(tiny_model, **changes)
    assert info.value.field == field
    assert field in str(info.value)


# --- data ---------------------------------------------------------------------------------


def test_prompt_tokens_are_masked(tiny_model):
    from transformers import AutoTokenizer

    from llmops_magics.finetune._data import IGNORE, tokenize_frame

    tok = AutoTokenizer.from_pretrained(tiny_model)
    data = tokenize_frame(_pairs(2), tok, _config(tiny_model))
    row = data[0]
    learned = [t for t, lab in zip(row["input_ids"], row["labels"], strict=True) if lab != IGNORE]
    assert tok.decode(learned) == "The model learns short questions 0.<|im_end|>\n"
    assert row["labels"][0] == IGNORE
    prompt = tok.decode(row["input_ids"][: row["labels"].count(IGNORE)])
    assert (
        prompt == "<|im_start|>user\nWhat does the model do 0?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_max_length_below_prompts_says_how_many_rows(tiny_model, workspace):
    frame = _pairs(6)
    frame.loc[[1, 4], "q"] = "a much longer question " * 20
    with pytest.raises(DataError, match=r"2 of 6 rows") as info:
        finetune.train(_config(tiny_model, max_length=40), frame, progress=False)
    assert info.value.rows == [1, 4]
    assert "--max-length" in str(info.value)


def test_no_usable_rows(tiny_model, workspace):
    import pandas as pd

    frame = pd.DataFrame({"text": ["", "", ""]})
    cfg = FineTuneConfig(model=str(tiny_model), text_col="text", max_steps=2)
    with pytest.raises(DataError, match="no usable rows after tokenization"):
        finetune.train(cfg, frame, progress=False)


def test_missing_column_and_empty_frame(tiny_model, workspace):
    import pandas as pd

    with pytest.raises(DataError, match="no column 'q'"):
        finetune.train(_config(tiny_model), pd.DataFrame({"x": ["a"]}), progress=False)
    with pytest.raises(DataError, match="empty"):
        finetune.train(_config(tiny_model), pd.DataFrame({"q": [], "a": []}), progress=False)


def test_unknown_target_modules_lists_linear_layers(tiny_model, workspace):
    cfg = _config(tiny_model, target_modules=["q_proj", "attn_qkv"])
    with pytest.raises(FineTuneConfigError, match="attn_qkv") as info:
        finetune.train(cfg, _pairs(), progress=False)
    for name in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
        assert name in str(info.value)
    assert "lm_head" not in str(info.value)


def test_qlora_without_cuda_is_a_clear_error(tiny_model, workspace):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(FineTuneError, match="QLoRA .*CUDA"):
        finetune.train(_config(tiny_model, quantize="4bit"), _pairs(), progress=False)


# --- training, tracking, run:<id> ---------------------------------------------------------


def test_loss_falls_and_the_run_is_tracked(trained, tiny_model):
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

    client = _client()
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    tags, params = run.data.tags, run.data.params
    assert tags["llmops.stage"] == "finetune" and tags["llmops.status"] == "finished"
    assert tags["llmops.base_model"] == str(tiny_model)
    assert len(tags["llmops.base_model_hash"]) == 64
    from llmops_magics.finetune._data import data_hash

    assert tags["llmops.data_hash"] == data_hash(_pairs())
    assert tags["llmops.seed"] == "0"
    assert params["lora_r"] == "8" and params["lr"] == "0.005"
    assert params["target_modules_used"] == "q_proj,v_proj"
    losses = client.get_metric_history(result.run_id, "train_loss")
    assert sorted(m.step for m in losses) == list(range(1, 11))
    names = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"adapter", "tokenizer", "finetune_config.json", "history.csv"} <= names
    adapter = {Path(a.path).name for a in client.list_artifacts(result.run_id, "adapter")}
    assert {"adapter_model.safetensors", "adapter_config.json"} <= adapter
    cfg = json.loads((Path(result.adapter_dir) / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == str(tiny_model)
    assert (Path(result.checkpoint_dir) / "train.jsonl").exists()


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
    client = _client()
    exp = workspace_exp()
    bare = client.create_run(exp, tags={"llmops.stage": "generate"})
    client.set_terminated(bare.info.run_id)
    with pytest.raises(ModelNotFoundError, match="logged no adapter"):
        models.resolve(f"run:{bare.info.run_id}")
    live = client.create_run(exp)
    with pytest.raises(ModelNotFoundError, match="still running"):
        models.resolve(f"run:{live.info.run_id}")
    client.set_terminated(live.info.run_id)


def workspace_exp() -> str:
    return workspace.experiment_id()


def test_result_renders_and_is_data(trained):
    result, _ = trained
    html = result._repr_html_()
    assert result.run_id in html and "train_loss" in html
    data = result.to_dict()
    assert data["history"][0]["step"] == 1 and data["status"] == "finished"
    assert "finished at step 10/10" in repr(result)
    fig = result.plot()
    assert len(fig.axes[0].lines) == 2


def test_a_callback_can_stop_the_run(tiny_model, workspace):
    from transformers import TrainerCallback

    class Prune(TrainerCallback):
        def on_evaluate(self, args, state, control, metrics=None, **kw):
            assert "eval_loss" in metrics
            control.should_training_stop = True

    parent = _client().create_run(workspace_exp(), run_name="sweep")
    result = finetune.train(
        _config(tiny_model, eval_steps=3),
        _pairs(),
        _pairs(4),
        callbacks=[Prune()],
        parent_run_id=parent.info.run_id,
        run_name="trial 0",
        tags={"sweep": "s1"},
        progress=False,
    )
    assert result.status == "stopped" and result.global_step == 3
    run = _client().get_run(result.run_id)
    assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert run.data.tags["sweep"] == "s1" and run.data.tags["llmops.status"] == "stopped"
    assert run.info.run_name == "trial 0"


# --- interrupt and resume -----------------------------------------------------------------


def _interrupt_at(step: int):
    from transformers import TrainerCallback

    class Boom(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == step:
                raise KeyboardInterrupt

    return Boom()


def test_interrupt_then_resume_equals_an_uninterrupted_run(tiny_model, workspace):
    import torch
    from safetensors.torch import load_file

    cfg = _config(tiny_model, max_steps=8, lora_dropout=0.1, save_steps=100)
    full = finetune.train(cfg, _pairs(), _pairs(4), progress=False)
    part = finetune.train(cfg, _pairs(), _pairs(4), callbacks=[_interrupt_at(3)], progress=False)
    assert part.status == "interrupted" and part.global_step == 3
    run = _client().get_run(part.run_id)
    assert run.info.status == "KILLED" and run.data.tags["llmops.status"] == "interrupted"
    assert (Path(part.checkpoint_dir) / "checkpoint-3" / "optimizer.pt").exists()
    assert "--resume" in repr(part)
    models.resolve(part.spec)  # the work so far is usable as a model

    resumed = finetune.resume(part.run_id, progress=False)
    assert resumed.run_id == part.run_id and resumed.status == "finished"
    assert resumed.global_step == 8
    a = load_file(Path(full.adapter_dir) / "adapter_model.safetensors")
    b = load_file(Path(resumed.adapter_dir) / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert list(resumed.history["step"])[-1] == 8
    assert resumed.history["train_loss"].iloc[-1] == pytest.approx(
        full.history["train_loss"].iloc[-1]
    )
    with pytest.raises(FineTuneError, match="already finished"):
        finetune.resume(part.run_id, progress=False)


def test_stop_button_stops_after_the_step(tiny_model, workspace):
    from transformers import TrainerCallback

    class Press(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            if state.global_step == 2:
                os.kill(os.getpid(), signal.SIGINT)

    result = finetune.train(
        _config(tiny_model, max_steps=6), _pairs(), callbacks=[Press()], progress=False
    )
    assert result.status == "interrupted" and result.global_step == 3
    assert list(result.history["step"]) == [1, 2, 3]  # the last step was logged, not lost
    assert (Path(result.checkpoint_dir) / "checkpoint-3").is_dir()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resume_refuses_other_data_and_unknown_runs(tiny_model, workspace):
    part = finetune.train(
        _config(tiny_model, max_steps=4), _pairs(), callbacks=[_interrupt_at(1)], progress=False
    )
    with pytest.raises(DataError, match="differs"):
        finetune.resume(part.run_id, data=_pairs(10), progress=False)
    with pytest.raises(FineTuneError, match="no run"):
        finetune.resume("0123456789abcdef", progress=False)


# --- merge --------------------------------------------------------------------------------


def test_merge_writes_a_full_model_with_the_adapter_logits(trained, tmp_path, workspace):
    import torch
    from transformers import AutoModelForCausalLM

    result, _ = trained
    out = finetune.merge(result.spec, tmp_path / "merged")
    assert (
        Path(out.out, "config.json").exists() and not Path(out.out, "adapter_config.json").exists()
    )
    merged = AutoModelForCausalLM.from_pretrained(out.out)
    loaded = models.load(result.spec)
    ids = loaded.tokenizer("What does the model do 3?", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.allclose(
            merged(input_ids=ids).logits, loaded.model(input_ids=ids).logits, atol=1e-4
        )
    with pytest.raises(FineTuneError, match="not empty"):
        finetune.merge(result.spec, tmp_path / "merged")
    with pytest.raises(FineTuneError, match="not a LoRA adapter"):
        finetune.merge(str(finetune_base(result)), tmp_path / "m2")


def finetune_base(result) -> str:
    return result.base_model


# --- magics -------------------------------------------------------------------------------


def test_finetune_and_merge_magics(ip, tiny_model, tmp_path):
    from IPython.core.error import UsageError

    ip.user_ns["df"] = _pairs()
    res = ip.run_line_magic(
        "llmops",
        f"finetune --model {tiny_model} --data df --prompt-col q --response-col a "
        "--max-steps 3 --lr 5e-3 --lora-r 4 --target-modules q_proj,k_proj --quiet -o ft",
    )
    assert ip.user_ns["ft"] is res and res.status == "finished" and res.global_step == 3
    assert res.config["lora_r"] == 4 and res.config["target_modules"] == ["q_proj", "k_proj"]
    merged = ip.run_line_magic("llmops", f"merge {res.spec} --out {tmp_path / 'm'}")
    assert Path(merged.out, "model.safetensors").exists()
    for line, message in [
        (f"finetune --model {tiny_model} --prompt-col q --response-col a", "give training data"),
        (f"finetune --model {tiny_model} --data df --prompt-col q", "--response-col"),
        (f"finetune --model {tiny_model} --method dpo", "--preferences"),
        ("finetune --data nothere --text q", "no variable named 'nothere'"),
    ]:
        with pytest.raises(UsageError, match=message):
            ip.run_line_magic("llmops", line)


# --- the panel ----------------------------------------------------------------------------


def test_training_panel_updates_in_place():
    from llmops_magics.widgets.training import PlainProgress, TrainingPanel, monitor_for

    panel = TrainingPanel(display=False)
    panel.start(4, "run x")
    for step, loss in enumerate([3.0, 2.5, 2.0, 1.5], start=1):
        panel.update({"step": step, "train_loss": loss, "tokens_per_s": 100.0, "eta_s": 4 - step})
    panel.update({"step": 4, "eval_loss": 1.8})
    panel.finish("finished", "done")
    assert panel.bar.value == 4 and panel.bar.max == 4 and panel.bar.bar_style == "success"
    assert panel.train_loss == [3.0, 2.5, 2.0, 1.5] and panel.eval_loss == [1.8]
    assert "finished" in panel.status.value
    assert panel.redraws >= 2 and bytes(panel.plot.value).startswith(b"\x89PNG")
    lines = panel._fig.axes[0].lines
    assert list(lines[0].get_ydata()) == [3.0, 2.5, 2.0, 1.5]

    with open(os.devnull, "w") as sink:
        plain = PlainProgress(every=2, stream=sink)
        plain.start(4, "run y")
        for step in range(1, 5):
            plain.update({"step": step, "train_loss": 1.0, "tokens_per_s": 50.0, "eta_s": 1.0})
        plain.finish("finished", "ok")
    assert next(ln for ln in plain.lines if "step" in ln and "loss" in ln).startswith(
        "[run y] step 2/4"
    )
    assert len(plain.lines) == 4  # start, steps 2 and 4, end
    assert isinstance(monitor_for(None), PlainProgress)  # no front end here


# --- DPO ----------------------------------------------------------------------------------


def test_dpo_learns_preferences_and_records_lineage(tiny_model, workspace, tmp_path):
    import pandas as pd

    rows = pd.DataFrame(
        {
            "prompt": [f"What does the model do {i}?" for i in range(12)],
            "chosen": ["The model learns short questions."] * 12,
            "rejected": ["Numbers 0123456789 %$#@!"] * 12,
            "trace_ids": [[f"tr-{i}"] for i in range(12)],
            "assessment_ids": [[f"as-{i}", f"bs-{i}"] for i in range(12)],
        }
    )
    path = tmp_path / "prefs.jsonl"
    rows.to_json(path, orient="records", lines=True)
    cfg = FineTuneConfig(model=str(tiny_model), method="dpo", max_steps=4, lr=5e-3, eval_steps=2)
    result = finetune.train_dpo(cfg, str(path), rows.head(4), progress=False)
    assert result.method == "dpo" and result.status == "finished"
    hist = result.history
    assert hist["train_loss"].iloc[0] == pytest.approx(math.log(2), abs=1e-3)
    assert hist["train_loss"].iloc[-1] < 0.6
    assert result.eval_loss is not None and result.eval_loss < math.log(2)
    client = _client()
    run = client.get_run(result.run_id)
    assert run.data.tags["llmops.method"] == "dpo"
    assert run.data.tags["llmops.preference_ratings"] == "24"
    lineage = json.loads(
        Path(client.download_artifacts(result.run_id, "preferences_lineage.json")).read_text()
    )
    assert lineage["n_pairs"] == 12 and "as-3" in lineage["assessment_ids"]
    assert models.resolve(result.spec).base == str(tiny_model)


def test_dpo_bad_preferences(tiny_model, workspace, tmp_path):
    import pandas as pd

    cfg = FineTuneConfig(model=str(tiny_model), method="dpo", max_steps=2)
    with pytest.raises(DataError, match="no column 'chosen'"):
        finetune.train_dpo(cfg, pd.DataFrame({"prompt": ["a"], "answer": ["b"]}), progress=False)
    same = pd.DataFrame({"prompt": ["a"], "chosen": ["b"], "rejected": ["b"]})
    with pytest.raises(DataError, match="no usable preference pairs"):
        finetune.train_dpo(cfg, same, progress=False)
    with pytest.raises(DataError, match="No preference file"):
        finetune.train_dpo(cfg, str(tmp_path / "missing.jsonl"), progress=False)


# --- the embedded model -------------------------------------------------------------------


@pytest.mark.slow
def test_smollm2_eval_loss_falls_on_chatterbot(fresh_workspace):
    from llmops_magics.data import load_dataset

    frame = load_dataset("chatterbot", limit=72, seed=0)
    train, evals = frame.iloc[:56], frame.iloc[56:]
    cfg = FineTuneConfig(
        model="smollm2",
        prompt_col="question",
        response_col="answer",
        max_steps=12,
        eval_steps=4,
        batch_size=4,
        max_length=96,
        lr=1e-3,
    )
    result = finetune.train(cfg, train, evals, progress=False)
    evals_loss = result.history.dropna(subset=["eval_loss"])["eval_loss"].tolist()
    assert len(evals_loss) == 3
    assert evals_loss[-1] < evals_loss[0]
    assert result.status == "finished" and result.global_step == 12
    assert result.precision == finetune.resolve_precision("auto")
    # under bf16 only the frozen base is bf16: the trained LoRA weights are saved in float32
    from safetensors.torch import load_file

    saved = load_file(str(Path(result.adapter_dir) / "adapter_model.safetensors"))
    assert saved and {str(t.dtype) for t in saved.values()} == {"torch.float32"}


def test_frontend_detection(monkeypatch):
    import IPython

    from llmops_magics.widgets import training

    class KernelShell:
        kernel = object()

    monkeypatch.delenv("LLMOPS_PLAIN", raising=False)
    monkeypatch.delenv("LLMOPS_STAGE_OUTPUTS", raising=False)
    monkeypatch.setattr(IPython, "get_ipython", lambda: KernelShell())
    assert training.has_frontend()
    assert isinstance(training.monitor_for(None), training.TrainingPanel)
    monkeypatch.setenv("LLMOPS_PLAIN", "1")
    assert not training.has_frontend()
    monkeypatch.delenv("LLMOPS_PLAIN")
    monkeypatch.setenv("LLMOPS_STAGE_OUTPUTS", "/tmp/x.json")  # a papermill pipeline stage
    assert isinstance(training.monitor_for(None), training.PlainProgress)
    assert isinstance(training.monitor_for("panel"), training.TrainingPanel)
    assert type(training.monitor_for(False)).__name__ == "_Silent"


def test_model_kwargs_per_precision(monkeypatch):
    """bf16 runs hold the frozen base in bf16, with eager attention on a CPU; fp32 is default."""
    import torch

    from llmops_magics.finetune._train import EAGER_MAX_LENGTH, _model_kwargs

    assert _model_kwargs("fp32", 256) == {"dtype": torch.float32}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _model_kwargs("bf16", 256) == {"dtype": torch.bfloat16, "attn_implementation": "eager"}
    assert _model_kwargs("bf16", EAGER_MAX_LENGTH + 1) == {"dtype": torch.bfloat16}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert _model_kwargs("bf16", 256) == {"dtype": torch.bfloat16}
