"""`make bench`: training and inference throughput of both models on this machine, and memory.

Prints figures; asserts nothing. Throughput is measured the way a run trains: `fit` and `predict`
over random uint8 images held in memory, at batch 64, timing the second call (the first builds and
compiles the step), so it is the steady-state cost of the seed's protocol, not of data loading.
(Timing `train_on_batch` instead undercounts on a fast GPU, since each call waits for its result:
README.md's speed section has the H100 figures.) From it, the time one epoch of
45,000 images would take, which is what planning a `paper` run needs, and the arithmetic rate
achieved: training images/s times the FLOPs counted per training image (`compute.py`: 3 x the
forward pass's Conv2D and Dense work), in TFLOP/s, to set against the GPU's peak for the
precision used (an A100, for example, is rated 19.5 TFLOP/s in float32 and 312 with bfloat16
tensor cores).

    python -m cifarcmp.train.bench [--steps N] [--upsampling 1 2 7] [--precision float32|mixed]

It keeps the rates `cifarcmp plan` estimates from (ResNet50's TFLOP/s at its largest size, the CNN's
images/s) in results/bench.json, per precision, so a plan on this machine is timed for it.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np

from cifarcmp import architectures, config, estimate
from cifarcmp.paths import RESULTS_ROOT
from cifarcmp.train import compute, models, provenance

TRAIN_IMAGES_PER_EPOCH = 45_000


def measure(model_name: str, upsampling: int, steps: int, precision: str = "float32", batch_size: int = 64) -> dict:
    import keras

    run_config = config.resolve(model_name, "paper", weights="none", upsampling=upsampling, precision=precision)
    model = models.build(run_config)
    training_flops = compute.training_flops_per_image(model)
    models.compile_for_training(model, run_config)
    generator = np.random.default_rng(0)
    images = generator.integers(0, 256, size=(steps * batch_size, 32, 32, 3), dtype=np.uint8)
    labels = generator.integers(0, 10, size=(steps * batch_size,))
    model.fit(images, labels, batch_size=batch_size, epochs=1, verbose=0)  # builds and compiles the training step
    started = time.perf_counter()
    model.fit(images, labels, batch_size=batch_size, epochs=1, verbose=0)
    train_rate = len(images) / (time.perf_counter() - started)
    model.predict(images, batch_size=batch_size, verbose=0)  # builds and compiles the inference step
    started = time.perf_counter()
    model.predict(images, batch_size=batch_size, verbose=0)
    predict_rate = len(images) / (time.perf_counter() - started)
    keras.backend.clear_session()
    return {
        "model": model_name,
        "image_size": run_config.image_size,
        "train_images_per_second": train_rate,
        "predict_images_per_second": predict_rate,
        "epoch_seconds": TRAIN_IMAGES_PER_EPOCH / train_rate,
        "training_flops_per_image": training_flops,
        "train_tflops_per_second": training_flops * train_rate / 1e12,
        "dtype_policy": model.dtype_policy.name,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement")
    parser.add_argument(
        "--upsampling", type=int, nargs="+", default=[1, 2, 7], help="upsampling factors of the transfer backbones"
    )
    parser.add_argument("--precision", choices=config.PRECISIONS, default="float32", help="as for cifarcmp train")
    parser.add_argument(
        "--models",
        nargs="+",
        choices=list(architectures.ARCHITECTURES),
        default=list(config.SEED_MODELS),
        help="the networks to measure (default: the seed report's two; the backbones study's are entries too)",
    )
    parser.add_argument(
        "--results-root", default=str(RESULTS_ROOT), help="where bench.json keeps the rates for `cifarcmp plan`"
    )
    arguments = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    device = provenance.device()
    print(f"device: {device['kind']} {device['name']} ({device['count']}); versions: {provenance.versions()}")
    # A scratch network at its native 32 px (fast, so 4x the steps), each transfer backbone at
    # every upsampling factor asked for.
    rows = []
    for name in arguments.models:
        entry = architectures.get(name)
        factors = arguments.upsampling if entry.transfer else [1]
        steps = arguments.steps if entry.transfer else arguments.steps * 4
        rows += [measure(name, factor, steps, arguments.precision) for factor in factors]
    print(f"precision: {arguments.precision} (Keras policy {rows[0]['dtype_policy']}); batch 64")
    print(
        f"{'model':<18}{'px':>5}{'train img/s':>13}{'train GFLOP/img':>17}{'train TFLOP/s':>15}"
        f"{'predict img/s':>15}{'s/epoch (45k)':>15}"
    )
    for row in rows:
        print(
            f"{row['model']:<18}{row['image_size']:>5}{row['train_images_per_second']:>13.1f}"
            f"{row['training_flops_per_image'] / 1e9:>17.2f}{row['train_tflops_per_second']:>15.3f}"
            f"{row['predict_images_per_second']:>15.1f}{row['epoch_seconds']:>15.1f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MiB")
    machine = (
        f"{device['count']} x {device['name']}" if device["kind"] == "gpu" and device["count"] > 1 else device["name"]
    )
    kept = estimate.keep_rates(Path(arguments.results_root), str(machine), arguments.precision, rows)
    if kept:
        print(f"rates kept in {kept} for `make plan`'s estimate on this machine ({arguments.precision})")


if __name__ == "__main__":
    main()
