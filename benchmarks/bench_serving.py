"""Serving benchmark: `llmops serve` against `transformers serve` (with and without continuous
batching), on the same model folder and prompts, through the official `openai` client.

    python benchmarks/bench_serving.py                 # SmolLM2, 16 and 64 clients, 32 tokens
    python benchmarks/bench_serving.py --quick         # the tiny random model, a smoke run
    python benchmarks/bench_serving.py --parts a,b     # some parts only

(a) throughput (tokens/s) and latency p50/p95 at each client count, each server in its own
    process, interleaved over --rounds; (b) one client: the server against in-process
    `models.generate` (both traced); (c) a bounded load test: --load-requests requests at 32
    clients, errors, traces stored, the server's RSS over the run; (d) three adapters of one base
    at once against the base alone. Figures go to stdout (and --json).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _questions(n: int) -> list[str]:
    from llmops_magics import data

    frame = data.load_dataset("chatterbot", limit=n, seed=7)
    return [str(q) for q in frame["question"]][:n]


def _wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=2)
            return
        except Exception:
            time.sleep(0.5)
    raise RuntimeError("server did not come up")


class Server:
    """A server in its own process: ours (``llmops serve``) or ``transformers serve``."""

    #: ``--engine`` of our server (``auto``: ONNX Runtime GenAI int8 for smollm2 here)
    engine = "auto"

    def __init__(
        self, kind: str, folder: str, specs: list[str], env: dict[str, str], engine: str = ""
    ) -> None:
        self.kind = kind
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/v1"
        if kind == "llmops":
            cmd = [PY, "-m", "llmops_magics.cli", "serve", *specs, "--port", str(port)]
            cmd += ["--max-batch", "64", "--max-tokens", "512", "--engine", engine or self.engine]
            self.model = specs[0].split("=", 1)[0]
        else:
            cmd = [str(Path(PY).parent / "transformers"), "serve", folder, "--port", str(port)]
            cmd += ["--device", "cpu"]
            if kind == "transformers-cb":
                cmd.append("--continuous-batching")
            self.model = folder
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_up(self.url, self.proc)

    def rss_mb(self) -> float:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _load(url: str, model: str, prompts: list[str], clients: int, tokens: int) -> dict[str, Any]:
    import openai

    client = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=900)

    def one(prompt: str) -> tuple[float, int, str]:
        t0 = time.perf_counter()
        try:
            out = client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=tokens,
                temperature=0,
            )
            return time.perf_counter() - t0, out.usage.completion_tokens, out.id
        except Exception as exc:
            return time.perf_counter() - t0, -1, type(exc).__name__

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, prompts))
    wall = time.perf_counter() - started
    ok = [r for r in results if r[1] >= 0]
    lat = sorted(r[0] for r in ok)
    toks = sum(r[1] for r in ok)
    return {
        "requests": len(results),
        "errors": len(results) - len(ok),
        "tokens": toks,
        "wall_s": round(wall, 2),
        "tok_s": round(toks / wall, 2) if wall else 0.0,
        "p50_s": round(statistics.median(lat), 2) if lat else 0.0,
        "p95_s": round(lat[int(0.95 * (len(lat) - 1))], 2) if lat else 0.0,
        "ids": [r[2] for r in ok],
    }


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _batches(url: str) -> int:
    """``llmops_batches_total`` of our server (the batches it has run so far)."""
    import urllib.request

    text = urllib.request.urlopen(url.removesuffix("/v1") + "/metrics", timeout=10).read()
    for line in text.decode().splitlines():
        if line.startswith("llmops_batches_total"):
            return int(float(line.split()[-1]))
    return 0


def part_a(args: argparse.Namespace, folder: str, env: dict[str, str]) -> dict[str, Any]:
    """Every server starts once and stays up; the runs interleave: each client count runs
    every server in turn (the order reversed every other round), so all see the same load.
    The idle servers' CPU during each run is printed: it must be ~0 for a fair comparison."""
    out: dict[str, Any] = {}
    kinds = ["llmops"] + ([] if args.skip_transformers else ["transformers-cb", "transformers"])
    kinds = [k for k in kinds if k not in args.skip]
    servers: dict[str, Server] = {}
    try:
        for kind in kinds:
            try:
                servers[kind] = Server(kind, folder, [f"m={args.spec}", "--no-track"], env)
            except RuntimeError as exc:
                print(f"(a) {kind}: could not start ({exc}); skipped")
                continue
            _load(servers[kind].url, servers[kind].model, _questions(4), 4, 4)  # warm-up
        for round_ in range(args.rounds):
            order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
            for clients in args.clients:
                prompts = (_questions(64) * 4)[:clients]
                for kind in order:
                    server = servers[kind]
                    others = {k: _cpu_s(s.proc.pid) for k, s in servers.items() if k != kind}
                    batches = _batches(server.url) if kind == "llmops" else 0
                    load = os.getloadavg()[0]
                    res = _load(server.url, server.model, prompts, clients, args.tokens)
                    res.pop("ids")
                    res["load"] = round(load, 2)
                    if kind == "llmops":
                        res["batches"] = _batches(server.url) - batches
                    res["idle_cpu_s"] = {
                        k: round(_cpu_s(servers[k].proc.pid) - v, 2) for k, v in others.items()
                    }
                    out.setdefault(f"{kind}@{clients}", []).append(res)
                    print(f"(a) round {round_} {kind:16s} {clients:3d} clients: {res}", flush=True)
    finally:
        for server in servers.values():
            server.stop()
    _ratios(out, args.clients)
    return out


def _ratios(out: dict[str, Any], clients_list: list[int]) -> None:
    """Our median tokens/s against the best ``transformers serve`` mode at each client count."""
    for clients in clients_list:
        ours = out.get(f"llmops@{clients}", [])
        theirs = [
            (statistics.median(r["tok_s"] for r in runs), k, max(r["p95_s"] for r in runs))
            for k, runs in out.items()
            if k.endswith(f"@{clients}") and not k.startswith("llmops")
        ]
        if not ours or not theirs:
            continue
        best = max(theirs)
        mine = statistics.median(r["tok_s"] for r in ours)
        p95 = max(r["p95_s"] for r in ours)
        print(
            f"(a) {clients} clients: llmops {mine:.1f} tok/s (p95 {p95:.1f} s), best transformers "
            f"({best[1].split('@')[0]}) {best[0]:.1f} tok/s (p95 {best[2]:.1f} s): "
            f"ratio {mine / best[0]:.2f}x, p95 {'lower or equal' if p95 <= best[2] else 'HIGHER'}"
        )


def part_b(args: argparse.Namespace, folder: str, env: dict[str, str]) -> dict[str, Any]:
    from llmops_magics import models

    prompts = _questions(args.single)
    server = Server("llmops", folder, [f"m={args.spec}"], env)
    spec, engine = args.spec, Server.engine
    try:
        _load(server.url, "m", prompts[:1], 1, 4)
        models.generate(prompts[:1], model=spec, max_new_tokens=4, batch_size=1, engine=engine)
        served, local = [], []
        for _ in range(args.rounds):
            served.append(_load(server.url, "m", prompts, 1, args.tokens)["wall_s"])
            t0 = time.perf_counter()
            for p in prompts:
                models.generate(
                    [p], model=spec, max_new_tokens=args.tokens, batch_size=1, engine=engine
                )
            local.append(time.perf_counter() - t0)
    finally:
        server.stop()
    s, g = statistics.median(served), statistics.median(local)
    print(
        f"(b) one client, {len(prompts)} prompts: server {s:.2f}s, in-process generate "
        f"{g:.2f}s, overhead {100 * (s / g - 1):+.1f}%"
    )
    return {"server_s": served, "generate_s": local}


def part_c(args: argparse.Namespace, folder: str, env: dict[str, str]) -> dict[str, Any]:
    from llmops_magics import tracking, workspace

    prompts = (_questions(64) * (args.load_requests // 64 + 1))[: args.load_requests]
    server = Server("llmops", folder, [f"m={args.spec}"], env)
    rss = [server.rss_mb()]
    try:
        res: dict[str, Any] = {"requests": 0, "errors": 0, "tokens": 0}
        ids: list[str] = []
        for i in range(0, len(prompts), 200):  # RSS sampled between slices
            part = _load(server.url, "m", prompts[i : i + 200], 32, 8)
            ids += part.pop("ids")
            for k in ("requests", "errors", "tokens"):
                res[k] += part[k]
            rss.append(server.rss_mb())
    finally:
        server.stop()
    workspace.use(env["LLMOPS_HOME"])
    stored = {t.info.trace_id for t in tracking.tracker().traces.search(max_results=50_000)}
    res["traces_stored"] = len(stored & set(ids))
    res["rss_mb"] = [round(x) for x in rss]
    print(f"(c) load test: {res}")
    return res


def _mixed(url: str, prompts: list[str], tokens: int) -> dict[str, Any]:
    """The clients spread over the adapters ``a0``, ``a1``, ``a2`` (one request each)."""
    import openai

    client = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=900)

    def one(i: int) -> int:
        out = client.chat.completions.create(
            model=f"a{i % 3}",
            messages=[{"role": "user", "content": prompts[i]}],
            max_tokens=tokens,
            temperature=0,
        )
        return int(out.usage.completion_tokens)

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(prompts)) as pool:
        toks = sum(pool.map(one, range(len(prompts))))
    return {"tokens": toks, "tok_s": round(toks / (time.perf_counter() - t0), 2)}


def part_d(args: argparse.Namespace, folder: str, env: dict[str, str], tmp: Path) -> dict[str, Any]:
    """Three adapters of one base at once against the base alone, same clients and tokens, for
    each engine of --d-engines: each engine's mixed figure is compared with ITS OWN single-model
    figure (torch batches the adapters' rows together through PEFT; a seam engine merges each
    adapter into its own model, so their requests batch apart)."""
    from llmops_magics.testing import make_tiny_adapter

    adapters = [make_tiny_adapter(folder, tmp / f"ad{i}", seed=i) for i in range(3)]
    for adapter in adapters:  # based on the spec the single model is served by (same weights)
        config_file = Path(adapter) / "adapter_config.json"
        config = json.loads(config_file.read_text())
        config["base_model_name_or_path"] = args.spec
        config_file.write_text(json.dumps(config))
    prompts = (_questions(64) * 4)[: args.clients[0]]
    figures: dict[str, Any] = {}
    for engine in args.d_engines:
        both: dict[str, float] = {}
        for label, specs in (
            ("single", [f"m={args.spec}", "--no-track"]),
            ("three-adapters", [*(f"a{i}={p}" for i, p in enumerate(adapters)), "--no-track"]),
        ):
            server = Server("llmops", folder, specs, env, engine=engine)
            try:
                model = "m" if label == "single" else "a0"
                _load(server.url, model, _questions(4), 4, 4)  # warm-up
                load = os.getloadavg()[0]
                if label == "single":
                    res = _load(server.url, "m", prompts, len(prompts), args.tokens)
                    res.pop("ids")
                else:
                    res = _mixed(server.url, prompts, args.tokens)
            finally:
                server.stop()
            both[label] = res["tok_s"]
            print(
                f"(d) engine {engine} {label}: {res['tok_s']} tok/s (load {load:.2f})", flush=True
            )
        ratio = both["three-adapters"] / both["single"]
        figures[engine] = both | {"ratio": round(ratio, 2)}
        print(f"(d) engine {engine}: three adapters / its own single model: {ratio:.2f}x")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2", help="a model spec (default smollm2)")
    parser.add_argument("--quick", action="store_true", help="tiny random model, small figures")
    parser.add_argument("--parts", default="a,b,c,d")
    parser.add_argument("--clients", default="16,64")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--single", type=int, default=8, help="(b): prompts one at a time")
    parser.add_argument("--load-requests", type=int, default=2000)
    parser.add_argument("--skip-transformers", action="store_true")
    parser.add_argument(
        "--skip", default="", help="servers to leave out of (a): transformers, transformers-cb"
    )
    parser.add_argument("--engine", default="auto", help="our server's --engine (default auto)")
    parser.add_argument(
        "--d-engines",
        default="auto,torch",
        help="(d): the engines to serve the single model and the three adapters with",
    )
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    args.clients = [int(x) for x in args.clients.split(",")]
    args.skip = [x for x in args.skip.split(",") if x]
    args.d_engines = [x for x in args.d_engines.split(",") if x]
    Server.engine = args.engine
    tmp = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    env = {**os.environ, "LLMOPS_HOME": str(tmp / ".llmops"), "MLFLOW_DISABLE_TELEMETRY": "true"}
    env["HF_HUB_OFFLINE"] = "1"
    if args.quick:
        from llmops_magics.testing import make_tiny_model

        folder = str(make_tiny_model(tmp / "tiny"))
        args.spec = folder
        args.clients, args.tokens, args.single = [4], 8, 3
        args.load_requests = min(args.load_requests, 200)
    else:
        from llmops_magics import models

        folder = str(models.resolve(args.model).path)
        args.spec = args.model  # our server gets the spec: the same weights, its engine by auto
    print(f"model folder {folder}; engine {args.engine}; load average {os.getloadavg()[0]:.1f}")
    figures: dict[str, Any] = {"model": args.model, "load_average": os.getloadavg()[0]}
    parts = set(args.parts.split(","))
    if "a" in parts:
        figures["a"] = part_a(args, folder, env)
    if "b" in parts:
        figures["b"] = part_b(args, folder, env)
    if "c" in parts:
        figures["c"] = part_c(args, folder, env)
    if "d" in parts:
        figures["d"] = part_d(args, folder, env, tmp)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
