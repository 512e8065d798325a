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

    python benchmarks/run.py            # full: the numbers in benchmarks/README.md
    python benchmarks/run.py --fast     # a smoke run (seconds): what the test suite runs

Peers that are not installed (PyTorch, KerasHub) are reported as such and skipped.
``--json FILE`` writes the results for other tools.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402

FULL = dict(batch=32, length=64, width=128, heads=4, hidden=512, layers=2, features=16, steps=10, repeats=9, rnn_units=128,
            decode_lengths=(8, 16, 32, 64), decode_repeats=3)
FAST = dict(batch=8, length=16, width=32, heads=4, hidden=64, layers=2, features=4, steps=2, repeats=2, rnn_units=16,
            decode_lengths=(2, 4), decode_repeats=1)


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


def keras_step(model, x, y):
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
    model.train_on_batch(x, y)  # trace and warm up

    def run(steps):
        for _ in range(steps):
            model.train_on_batch(x, y)

    return run


def course_lib_transformer(c, x, y):
    from course_lib.transformer import TransformerEncoder

    encoder = TransformerEncoder(c["layers"], c["heads"], c["hidden"], c["width"], max_length=c["length"], pooling="mean")
    model = keras.Sequential([keras.Input(x.shape[1:]), encoder, keras.layers.Dense(1)])
    return keras_step(model, x, y)


def keras_hub_transformer(c, x, y):
    import keras_hub

    inputs = keras.Input(x.shape[1:])
    h = keras.layers.Dense(c["width"])(inputs)
    h = keras_hub.layers.SinePositionEncoding()(h) + h
    for _ in range(c["layers"]):
        h = keras_hub.layers.TransformerEncoder(intermediate_dim=c["hidden"], num_heads=c["heads"])(h)
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(h))
    return keras_step(keras.Model(inputs, outputs), x, y)


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


def race(runners: dict, c) -> tuple[dict, dict]:
    """Median samples per second of each runner, timed interleaved, and each runner's speed
    relative to the first, as the median of the per-repeat ratios (robust to load that drifts)."""
    times = {name: [] for name in runners}
    for _ in range(c["repeats"]):
        for name, run in runners.items():
            start = time.perf_counter()
            run(c["steps"])
            times[name].append(time.perf_counter() - start)
    first = next(iter(times.values()))
    rates = {name: c["batch"] * c["steps"] / statistics.median(t) for name, t in times.items()}
    ratios = {name: statistics.median(a / b for a, b in zip(first, t)) for name, t in times.items()}
    return rates, ratios


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="tiny sizes and few repeats: a smoke run")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    c = FAST if args.fast else FULL
    keras.utils.set_random_seed(0)

    x = np.random.default_rng(0).normal(size=(c["batch"], c["length"], c["features"])).astype("float32")
    y = np.random.default_rng(1).normal(size=(c["batch"], 1)).astype("float32")
    peers = {"course_lib TransformerEncoder": course_lib_transformer}
    missing = []
    for name, module, make in (("keras_hub TransformerEncoder", "keras_hub", keras_hub_transformer), ("torch TransformerEncoderLayer", "torch", torch_transformer)):
        if importlib.util.find_spec(module) is None:
            missing.append(f"{name} ({module} not installed)")
        else:
            peers[name] = make
    runners = {name: make(c, x, y) for name, make in peers.items()}
    size = 256 if args.fast else 1024
    machine = matmul_flops_per_second(size)
    transformer, transformer_ratio = race(runners, c)
    rnn, rnn_ratio = race(rnn_peers(c), c)
    machine = max(machine, matmul_flops_per_second(size))  # before and after: the less disturbed one
    decode = decoding(c)

    flops = transformer_training_flops(c)
    print(f"backend {keras.backend.backend()}, {os.cpu_count()} CPU threads; measured matmul rate {machine / 1e9:.1f} GFLOP/s")
    print(f"config: {json.dumps({k: c[k] for k in ('batch', 'length', 'width', 'heads', 'hidden', 'layers')})}; "
          f"{c['repeats']} interleaved repeats of {c['steps']} training steps; medians\n")
    print(f"{'Transformer encoder, training':<32}{'samples/s':>12}{'peer / ours':>13}{'% of matmul peak':>18}")
    for name, rate in transformer.items():
        print(f"{name:<32}{rate:>12.1f}{transformer_ratio[name]:>13.2f}{100 * rate * flops / c['batch'] / machine:>17.1f}%")
    for name in missing:
        print(f"{name:<32}{'skipped':>12}")
    print(f"\n{'Recurrent layer, training':<32}{'samples/s':>12}{'peer / ours':>13}")
    for name, rate in rnn.items():
        print(f"{name:<32}{rate:>12.1f}{rnn_ratio[name]:>13.2f}")
    print(f"\n{'Greedy decoding, batch ' + str(c['batch']):<32}{'uncached s':>12}{'cached s':>12}{'speed-up':>10}")
    for length, row in decode.items():
        print(f"{str(length) + ' output tokens':<32}{row['uncached']:>12.3f}{row['cached']:>12.3f}{row['speedup']:>9.1f}x")
    results = {
        "config": c, "matmul_flops_per_second": machine, "transformer": transformer, "transformer_ratio": transformer_ratio,
        "rnn": rnn, "rnn_ratio": rnn_ratio, "decoding": decode, "skipped": missing,
    }
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
