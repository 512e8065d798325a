#!/usr/bin/env python
"""Speed of course_lib's layers against their peers, side by side, in one run.

Two comparisons, each on one identical configuration, timed interleaved (every
repeat runs every peer once, in turn) so that a busy machine slows them all alike:

1. **Transformer encoder training**: ``course_lib.TransformerEncoder`` (2 post-norm
   blocks) against 2 ``keras_hub.layers.TransformerEncoder`` blocks on the same Keras
   backend and against 2 ``torch.nn.TransformerEncoderLayer`` (post-norm, ReLU),
   all with a linear input projection and mean pooling, Adam, mean squared error.
   Reported: training samples per second (median of the repeats), each peer's speed
   relative to ours (the median of the per-repeat ratios, which a load that drifts
   during the run disturbs less), and the fraction of the machine's measured matmul
   FLOP/s reached (float32 matmul through the backend, the better of a measurement
   before and one after the race).
2. **Recurrent layer training**: ``keras.layers.RNN(course_lib.FormulaRNNCell)``
   against ``keras.layers.SimpleRNN``, the same computation.
3. **Decoding with and without the key-value cache**: greedy decoding of a
   ``course_lib.TransformerSeq2Seq`` for a fixed number of output tokens (``<eos>`` is
   made impossible), once rerunning the whole model on the whole prefix at every step
   and once with the cache (``greedy_decode(..., use_cache=False / True)``); the two give
   the same tokens (checked here too). Reported: seconds per batch for each output
   length and the speed-up.

On TensorFlow the Transformer race also runs ours and KerasHub's compiled with XLA
(``jit_compile=True``; Keras leaves XLA off on a CPU-only machine by default), and the
inference latency of one request (batch 1, the compiled predict function; PyTorch without gradients) for each encoder.

    python benchmarks/run.py                        # full: prints the tables
    python benchmarks/run.py --readme               # ... and writes them into benchmarks/README.md
    KERAS_BACKEND=jax python benchmarks/run.py --readme   # the JAX section of the README
    python benchmarks/run.py --fast                 # a smoke run (seconds): what the test suite runs

Peers that are not installed (PyTorch, KerasHub) are reported as such and skipped.
``--json FILE`` writes the results for other tools.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from course_lib.timing import race as interleaved  # noqa: E402

README = Path(__file__).resolve().parent / "README.md"

FULL = dict(batch=32, length=64, width=128, heads=4, hidden=512, layers=2, features=16, steps=10, repeats=9, rnn_units=128,
            decode_lengths=(8, 16, 32, 64), decode_repeats=3, requests=20)
FAST = dict(batch=8, length=16, width=32, heads=4, hidden=64, layers=2, features=4, steps=2, repeats=2, rnn_units=16,
            decode_lengths=(2, 4), decode_repeats=1, requests=2)


def matmul_flops_per_second(size: int = 1024, repeats: int = 5) -> float:
    """The machine's float32 matmul rate through the Keras backend: 2·n³ FLOPs per product."""
    a = keras.random.normal((size, size))
    b = keras.random.normal((size, size))
    keras.ops.convert_to_numpy(keras.ops.matmul(a, b))  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, b))
        times.append(time.perf_counter() - start)
    return 2 * size**3 / min(times)


def transformer_training_flops(c) -> float:
    """Matmul FLOPs of one training step (forward + backward ≈ 3 × forward)."""
    tokens = c["batch"] * c["length"]
    projections = 2 * tokens * (4 * c["width"] ** 2 + 2 * c["width"] * c["hidden"])  # Q, K, V, O and the FFN
    attention = 2 * 2 * c["batch"] * c["length"] ** 2 * c["width"]  # QK^T and weights·V
    embed = 2 * tokens * c["features"] * c["width"]
    return 3 * (c["layers"] * (projections + attention) + embed)


def keras_step(model, x, y, jit_compile="auto"):
    """A function running ``steps`` training steps of ``model``, and one answering a request."""
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse", jit_compile=jit_compile)
    model.train_on_batch(x, y)  # trace and warm up

    def run(steps):
        for _ in range(steps):
            model.train_on_batch(x, y)

    one = x[:1]
    model.predict_on_batch(x)

    def request():  # the compiled predict function (a direct model(x) call runs eagerly: tens of ms of overhead)
        model.predict_on_batch(one)

    def forward():  # the forward pass of a training batch alone: with run(), where a step's time goes
        model.predict_on_batch(x)

    run.request, run.forward = request, forward
    return run


def course_lib_model(c, x):
    from course_lib.transformer import TransformerEncoder

    encoder = TransformerEncoder(c["layers"], c["heads"], c["hidden"], c["width"], max_length=c["length"], pooling="mean")
    return keras.Sequential([keras.Input(x.shape[1:]), encoder, keras.layers.Dense(1)])


def keras_hub_model(c, x):
    import keras_hub

    inputs = keras.Input(x.shape[1:])
    h = keras.layers.Dense(c["width"])(inputs)
    h = keras_hub.layers.SinePositionEncoding()(h) + h
    for _ in range(c["layers"]):
        h = keras_hub.layers.TransformerEncoder(intermediate_dim=c["hidden"], num_heads=c["heads"])(h)
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(h))
    return keras.Model(inputs, outputs)


def course_lib_transformer(c, x, y, jit_compile="auto"):
    return keras_step(course_lib_model(c, x), x, y, jit_compile)


def keras_hub_transformer(c, x, y, jit_compile="auto"):
    return keras_step(keras_hub_model(c, x), x, y, jit_compile)


def torch_transformer(c, x, y):
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    layer = torch.nn.TransformerEncoderLayer(c["width"], c["heads"], c["hidden"], dropout=0.0, batch_first=True)
    model = torch.nn.ModuleDict(
        {
            "embed": torch.nn.Linear(c["features"], c["width"]),
            "encoder": torch.nn.TransformerEncoder(layer, c["layers"], enable_nested_tensor=False),
            "head": torch.nn.Linear(c["width"], 1),
        }
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        optimizer.zero_grad()
        out = model["head"](model["encoder"](model["embed"](tx)).mean(dim=1))
        loss = torch.nn.functional.mse_loss(out, ty)
        loss.backward()
        optimizer.step()

    step()

    def run(steps):
        for _ in range(steps):
            step()

    one = tx[:1]

    def infer(batch):
        with torch.no_grad():
            model["head"](model["encoder"](model["embed"](batch)).mean(dim=1)).numpy()

    run.request, run.forward = (lambda: infer(one)), (lambda: infer(tx))
    return run


def rnn_peers(c):
    from course_lib.recurrent import FormulaRNNCell

    x = np.random.default_rng(0).normal(size=(c["batch"], c["length"], c["features"])).astype("float32")
    y = np.zeros((c["batch"], 1), "float32")
    make = {
        "course_lib FormulaRNNCell": lambda: keras.layers.RNN(FormulaRNNCell(c["rnn_units"])),
        "keras SimpleRNN": lambda: keras.layers.SimpleRNN(c["rnn_units"]),
    }
    return {name: keras_step(keras.Sequential([keras.Input(x.shape[1:]), f(), keras.layers.Dense(1)]), x, y) for name, f in make.items()}


def decoding(c) -> dict:
    """Greedy decoding time against output length, without and with the key-value cache."""
    from course_lib.seq2seq import TransformerSeq2Seq, Vocabulary, greedy_decode

    vocab = Vocabulary([f"t{i}" for i in range(60)])
    longest = max(c["decode_lengths"])
    model = TransformerSeq2Seq(vocab, vocab, model_dim=c["width"], num_heads=c["heads"], ff_dim=c["hidden"],
                               num_layers=c["layers"], dropout=0.0, max_length=max(longest, c["length"] // 2))
    source = np.random.default_rng(2).integers(4, len(vocab), size=(c["batch"], c["length"] // 2)).astype("int32")
    model((source, source[:, :2]))
    bias = keras.ops.convert_to_numpy(model.output_layer.bias).copy()
    bias[Vocabulary.EOS] = -1e9  # never finish: every decode makes exactly `length` tokens
    model.output_layer.bias.assign(bias)
    results = {}
    for length in c["decode_lengths"]:
        times = {"uncached": [], "cached": []}
        outputs = {}
        for _ in range(c["decode_repeats"]):
            for name, use_cache in (("uncached", False), ("cached", True)):
                start = time.perf_counter()
                outputs[name] = greedy_decode(model, source, length, use_cache=use_cache)
                times[name].append(time.perf_counter() - start)
        if outputs["cached"].shape != (c["batch"], length) or not (outputs["cached"] == outputs["uncached"]).all():
            raise AssertionError(f"decoding: cached and uncached greedy decoding differ at length {length}")
        seconds = {name: statistics.median(t) for name, t in times.items()}
        results[length] = {**seconds, "speedup": seconds["uncached"] / seconds["cached"]}
    return results


def race(runners: dict, c) -> tuple[dict, dict, dict]:
    """Median samples per second of each runner, timed interleaved (``course_lib.timing.race``),
    each runner's speed relative to the first as the median of the per-repeat ratios (robust to
    load that drifts), and the smallest and largest per-repeat ratio."""
    result = interleaved({name: (lambda run=run: run(c["steps"])) for name, run in runners.items()}, repeats=c["repeats"], warmup=0)
    first = next(iter(runners))
    rates = {name: c["batch"] * c["steps"] / result.median(name) for name in runners}
    return rates, {name: result.speedup(name, over=first) for name in runners}, {name: result.spread(name, over=first) for name in runners}


def latency(runners: dict, c) -> tuple[dict, dict, dict]:
    """Milliseconds per request (batch 1, no gradient; Keras' compiled predict function), the speed
    relative to the first, and milliseconds of the forward pass alone on a training batch."""
    contenders = {}
    for name, run in runners.items():  # a request takes milliseconds: time c["requests"] of them per repeat
        contenders[name] = lambda run=run: [run.request() for _ in range(c["requests"])]
        contenders[name + " (forward, training batch)"] = run.forward
    result = interleaved(contenders, repeats=c["repeats"], warmup=2)
    first = next(iter(runners))
    return ({name: 1000 * result.median(name) / c["requests"] for name in runners},
            {name: result.speedup(name, over=first) for name in runners},
            {name: 1000 * result.median(name + " (forward, training batch)") for name in runners})


def machine_description() -> str:
    """CPU model, cores, memory and the library versions, for the README."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    versions = []
    for name in ("keras", "tensorflow", "jax", "keras-hub", "torch"):
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return f"{cpu}, {os.cpu_count()} CPU threads{memory}; {', '.join(versions)}"


def report(results: dict) -> str:
    """The results as Markdown tables: what run.py prints and what --readme writes."""
    c, machine = results["config"], results["matmul_flops_per_second"]
    flops = transformer_training_flops(c)
    lines = [
        f"Backend **{results['backend']}**, measured {results['date']} on {results['machine']}. "
        f"Training: {c['repeats']} interleaved repeats of {c['steps']} steps, medians; *peer / ours* is the median of the "
        f"per-repeat speed ratios (above 1: the peer is faster), with the smallest and largest per-repeat ratio.",
        "",
        f"| Transformer encoder, training | samples/s | peer / ours | per-repeat range | % of measured matmul rate ({machine / 1e9:.1f} GFLOP/s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, rate in results["transformer"].items():
        low, high = results["transformer_spread"][name]
        lines.append(f"| {name} | {rate:.1f} | {results['transformer_ratio'][name]:.2f} | {low:.2f}-{high:.2f} | "
                     f"{100 * rate * flops / c['batch'] / machine:.1f} % |")
    lines += [f"| {name} | skipped | | | |" for name in results["skipped"]]
    lines += ["", f"| inference (Keras: predict_on_batch; PyTorch: no_grad) | one request (batch 1), ms | peer / ours | "
              f"forward of a training batch, ms | forward / training step |", "|---|---:|---:|---:|---:|"]
    for name, ms in results["latency"].items():
        step_ms = 1000 * c["batch"] / results["transformer"][name]
        lines.append(f"| {name} | {ms:.2f} | {results['latency_ratio'][name]:.2f} | {results['forward_ms'][name]:.1f} | "
                     f"{results['forward_ms'][name] / step_ms:.2f} |")
    lines += ["", "| recurrent layer, training | samples/s | peer / ours |", "|---|---:|---:|"]
    for name, rate in results["rnn"].items():
        lines.append(f"| {name} | {rate:.1f} | {results['rnn_ratio'][name]:.2f} |")
    lines += ["", f"| greedy decoding, batch {c['batch']} | rerun the prefix (s) | key-value cache (s) | speed-up |",
              "|---|---:|---:|---:|"]
    for length, row in results["decoding"].items():
        lines.append(f"| {length} output tokens | {row['uncached']:.3f} | {row['cached']:.3f} | {row['speedup']:.1f}x |")
    return "\n".join(lines)


def readme_markers(backend: str) -> tuple[str, str]:
    return (f"<!-- results:{backend}:begin (written by benchmarks/run.py --readme; do not edit by hand) -->",
            f"<!-- results:{backend}:end -->")


def write_readme(results: dict, path: Path = README) -> None:
    """Replace the backend's block of results in the README by this run's tables."""
    begin, end = readme_markers(results["backend"])
    text = path.read_text(encoding="utf-8")
    if begin not in text or end not in text:
        raise ValueError(f"{path} has no block between {begin!r} and {end!r}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{report(results)}\n{end}{tail}", encoding="utf-8")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="tiny sizes and few repeats: a smoke run")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--readme", nargs="?", type=Path, const=README, default=None,
                        help="write the tables into this README's block for the backend (default benchmarks/README.md)")
    args = parser.parse_args(argv)
    c = FAST if args.fast else FULL
    keras.utils.set_random_seed(0)
    backend = keras.backend.backend()

    x = np.random.default_rng(0).normal(size=(c["batch"], c["length"], c["features"])).astype("float32")
    y = np.random.default_rng(1).normal(size=(c["batch"], 1)).astype("float32")
    peers = {"course_lib TransformerEncoder": course_lib_transformer}
    missing = []
    hub = importlib.util.find_spec("keras_hub") is not None
    if hub:
        peers["keras_hub TransformerEncoder"] = keras_hub_transformer
    else:
        missing.append("keras_hub TransformerEncoder (keras_hub not installed)")
    if backend == "tensorflow":  # XLA: off by default on a CPU-only TensorFlow, always on with JAX
        peers["course_lib, jit_compile=True"] = lambda c, x, y: course_lib_transformer(c, x, y, jit_compile=True)
        if hub:
            peers["keras_hub, jit_compile=True"] = lambda c, x, y: keras_hub_transformer(c, x, y, jit_compile=True)
    if importlib.util.find_spec("torch") is None:
        missing.append("torch TransformerEncoderLayer (torch not installed)")
    else:
        peers["torch TransformerEncoderLayer"] = torch_transformer
    runners = {name: make(c, x, y) for name, make in peers.items()}
    size = 256 if args.fast else 1024
    machine = matmul_flops_per_second(size)
    transformer, transformer_ratio, transformer_spread = race(runners, c)
    request_ms, request_ratio, forward_ms = latency(runners, c)
    rnn, rnn_ratio, _ = race(rnn_peers(c), c)
    machine = max(machine, matmul_flops_per_second(size))  # before and after: the less disturbed one
    decode = decoding(c)
    results = {
        "backend": backend, "date": datetime.date.today().isoformat(), "machine": machine_description(),
        "config": c, "matmul_flops_per_second": machine, "transformer": transformer, "transformer_ratio": transformer_ratio,
        "transformer_spread": transformer_spread, "latency": request_ms, "latency_ratio": request_ratio, "forward_ms": forward_ms,
        "rnn": rnn, "rnn_ratio": rnn_ratio, "decoding": decode, "skipped": missing,
    }
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.readme:
        write_readme(results, args.readme)
    return results


if __name__ == "__main__":
    main()
