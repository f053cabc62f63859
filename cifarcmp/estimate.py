"""What a plan will cost before it runs: each run's counted FLOPs and an estimated GPU time.

`cifarcmp plan` prints, per group of the plan (the main runs, then each study), the runs it trains,
the study folders it fills with a copy of a run trained for another group (free), and the estimated
GPU time of its runs: the time of the runs left to train, and of all of them. A run shared by two
groups is trained once and counted once, in the first group that asks for it (the main runs first).

How it is estimated (no Keras: a plan is listed without loading a backend):

- FLOPs per image: `FLOPS` below, counted once with cifarcmp/train/compute.py from each network as
  `cifarcmp.train.models` builds it, at every input size the plans use (32, 64, 128, 224 px); the
  count is exact for those sizes (the same layers, shapes and rule as every run's metrics.json). An
  input size not listed is scaled from the nearest listed one by the square of the side.
- A run's arithmetic: its epochs (the maximum: early stopping can only make it shorter, so the
  estimate is an upper bound for the CNN) x (training images x training FLOPs per image +
  validation images x forward FLOPs per image), plus one forward pass over the test images and the
  training sample a run scores at the end. A distilled student also runs its teacher forward on
  every training image.
- Time: that arithmetic at the rate README.md's speed section measured on one NVIDIA H100 80GB with
  `make bench` (`fit`, as a run trains): 61.5 TFLOP/s for ResNet50 at 224 px in float32, 98.3 with
  mixed precision; the CNN's 32,549 (37,204) training images/s. The other backbones are assumed to
  reach ResNet50's rate: for EfficientNetV2B0 and MobileNetV3Large, whose depthwise convolutions
  keep a GPU less busy, and for any network at 32 or 64 px, the estimate is low. Each run also pays
  the start-up measured there (compilation, evaluation, Grad-CAM): 78 s for a backbone, 30 s for
  the CNN.

It is a guide for choosing what fits in a Colab session or a SLURM time limit, not a measurement.
Where `make bench` has measured the machine the plan runs on (it keeps its figures in
`results/bench.json`), those rates replace README.md's for the precision it measured, and the
estimate names that machine; the start-up seconds stay the H100's.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass
from pathlib import Path

from cifarcmp import architectures, files
from cifarcmp.errors import UserError

# Forward and training FLOPs per image (training: 3 x forward for trainable layers, 1 x for frozen
# ones), counted with cifarcmp.train.compute from the built networks (weights=none), keyed by
# "<model>@<image side>"; "resnet50-frozen" is the frozen-features arm. Made by building each entry
# of cifarcmp/architectures.py with config.resolve(model, "paper", weights="none", upsampling=u) for
# u in 1, 2, 4, 7 and calling compute.forward_flops_per_image / training_flops_per_image on it
# (Keras 3.15.1, TensorFlow 2.21); tests/test_improvements.py checks them against the counts runs record.
FLOPS: dict[str, tuple[int, int]] = {
    "resnet50@32": (162_855_434, 488_566_302),
    "resnet50-frozen@32": (162_855_434, 173_364_766),
    "resnet50@64": (635_657_738, 1_906_973_214),
    "resnet50-frozen@64": (635_657_738, 646_167_070),
    "resnet50@128": (2_526_866_954, 7_580_600_862),
    "resnet50-frozen@128": (2_526_866_954, 2_537_376_286),
    "resnet50@224": (7_727_692_298, 23_183_076_894),
    "resnet50-frozen@224": (7_727_692_298, 7_738_201_630),
    "cnn@32": (41_569_546, 124_708_638),
    "resnet50v2@32": (147_442_186, 442_326_558),
    "resnet50v2@64": (574_004_746, 1_722_014_238),
    "resnet50v2@128": (2_280_254_986, 6_840_764_958),
    "resnet50v2@224": (6_972_443_146, 20_917_329_438),
    "efficientnetv2b0@32": (34_973_466, 104_920_398),
    "efficientnetv2b0@64": (122_619_354, 367_858_062),
    "efficientnetv2b0@128": (473_202_906, 1_419_608_718),
    "efficientnetv2b0@224": (1_437_307_674, 4_311_923_022),
    "mobilenetv3large@32": (14_722_402, 44_167_206),
    "mobilenetv3large@64": (40_751_842, 122_255_526),
    "mobilenetv3large@128": (144_869_602, 434_608_806),
    "mobilenetv3large@224": (431_193_442, 1_293_580_326),
    "convnexttiny@32": (184_734_474, 554_203_422),
    "convnexttiny@64": (731_038_218, 2_193_114_654),
    "convnexttiny@128": (2_916_253_194, 8_748_759_582),
    "convnexttiny@224": (8_925_594_378, 26_776_783_134),
    "densenet121@32": (118_795_786, 356_387_358),
    "densenet121@64": (465_710_602, 1_397_131_806),
    "densenet121@128": (1_853_369_866, 5_560_109_598),
    "densenet121@224": (5_669_432_842, 17_008_298_526),
}

CIFAR_TRAIN_IMAGES, CIFAR_TEST_IMAGES = 50_000, 10_000  # the synthetic data set has the same sizes

# README.md's speed section: one NVIDIA H100 80GB (HBM3), Keras 3.15.1 on JAX, `make bench` with fit.
GPU = "one NVIDIA H100 80GB"
TRANSFER_FLOPS_PER_SECOND = {"float32": 61.5e12, "mixed": 98.3e12}  # ResNet50, 224 px
CNN_IMAGES_PER_SECOND = {"float32": 32_549, "mixed": 37_204}
# A run's fixed cost there: its wall time less its epochs (182 s - 6 x 17.4 s; 95 s - 50 x 1.3 s).
START_SECONDS = {"transfer": 78.0, "scratch": 30.0}

# Where `make bench` keeps the figures it measured on this machine, under the results root.
BENCH_FILE = "bench.json"
_BENCH_BYTES = 100_000  # a handful of numbers; anything larger is not bench's file


@dataclass(frozen=True)
class Rates:
    """What an estimate divides by: a backbone's training FLOP/s and the CNN's training images/s."""

    gpu: str
    source: str
    transfer_flops_per_second: float
    cnn_images_per_second: float


def readme_rates(precision: str) -> Rates:
    precision = precision if precision in TRANSFER_FLOPS_PER_SECOND else "float32"
    return Rates(
        GPU, "README.md's measured rates", TRANSFER_FLOPS_PER_SECOND[precision], CNN_IMAGES_PER_SECOND[precision]
    )


def bench_figures(rows: list[dict]) -> dict:
    """The rates an estimate needs from `make bench`'s rows: ResNet50's TFLOP/s at its largest
    measured size (the nearest to how the paper profile trains), and the CNN's images/s."""
    transfer = [row for row in rows if row["model"] == "resnet50"]
    scratch = [row for row in rows if row["model"] == "cnn"]
    if not transfer or not scratch:
        return {}
    largest = max(transfer, key=lambda row: row["image_size"])
    return {
        "transfer_flops_per_second": largest["train_tflops_per_second"] * 1e12,
        "transfer_image_size": largest["image_size"],
        "cnn_images_per_second": scratch[0]["train_images_per_second"],
    }


def keep_rates(results_root: Path, machine: str, precision: str, rows: list[dict]) -> Path | None:
    """Write the rates `machine_rates` reads from `make bench`'s `rows` into `results_root`/bench.json,
    beside those of the other precision when the same machine measured them; None when the rows
    lack ResNet50 or the CNN."""
    figures = bench_figures(rows)
    if not figures:
        return None
    path = Path(results_root) / BENCH_FILE
    rates = {}
    try:
        earlier = json.loads(path.read_text())
        if earlier.get("device") == machine:
            rates = dict(earlier.get("rates", {}))
    except (OSError, ValueError, AttributeError):
        pass  # none yet, or not bench's: replaced by this measurement
    rates[precision] = figures
    measured = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_text_atomically(path, json.dumps({"device": machine, "measured": measured, "rates": rates}, indent=2))
    return path


def machine_rates(results_root: Path, precision: str) -> Rates:
    """`make bench`'s rates for `precision` where it measured this machine, else README.md's."""
    path = Path(results_root) / BENCH_FILE
    try:
        with open(path, "rb") as handle:
            raw = handle.read(_BENCH_BYTES + 1)
    except FileNotFoundError:
        return readme_rates(precision)
    except OSError as error:
        raise UserError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        if len(raw) > _BENCH_BYTES:
            raise ValueError
        document = json.loads(raw)
        measured = document["rates"].get(precision)
        if measured is None:
            return readme_rates(precision)
        gpu, when = str(document["device"])[:200], str(document["measured"])[:40]
        transfer, cnn = float(measured["transfer_flops_per_second"]), float(measured["cnn_images_per_second"])
        if not all(math.isfinite(rate) and rate > 0 for rate in (transfer, cnn)):
            raise ValueError
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UserError(
            f"{path}: not the figures `make bench` writes; run `make bench` again on this machine, or delete it"
        ) from None
    return Rates(" ".join(gpu.split()), f"`make bench` on this machine, {' '.join(when.split())}", transfer, cnn)


def flops_per_image(model: str, image_size: int, frozen: bool = False) -> tuple[float, float]:
    """(forward, training) FLOPs per image of `model` at `image_size` px (see the module docstring)."""
    name = f"{model}-frozen" if frozen else model
    key = f"{name}@{image_size}"
    if key in FLOPS:
        return FLOPS[key]
    sizes = sorted(int(known.split("@")[1]) for known in FLOPS if known.split("@")[0] == name)
    if not sizes:
        raise KeyError(f"no counted FLOPs for {name}")
    nearest = min(sizes, key=lambda size: abs(size - image_size))
    forward, training = FLOPS[f"{name}@{nearest}"]
    scale = (image_size / nearest) ** 2
    return forward * scale, training * scale


@dataclass(frozen=True)
class Cost:
    flops: float
    seconds: float


def run_cost(config, changes: dict | None = None, rates: Rates | None = None) -> Cost:
    """The estimated FLOPs and GPU seconds of one run of `config` (a RunConfig), at `rates`
    (README.md's for the run's precision when not given)."""
    rates = rates or readme_rates(config.precision)
    entry = architectures.get(config.model)
    forward, training = flops_per_image(config.model, config.image_size, frozen=config.freeze_base)
    kept = CIFAR_TRAIN_IMAGES - config.validation_size
    train = config.train_subset or kept
    if config.train_fraction < 1:
        train = max(10, round(config.train_fraction * train))
    test = config.test_subset or CIFAR_TEST_IMAGES
    per_epoch = train * training + config.validation_size * forward
    flops = config.epochs * per_epoch + (test + min(config.validation_size, train)) * forward
    if entry.transfer:
        rate = rates.transfer_flops_per_second
    else:
        cnn_forward, cnn_training = flops_per_image("cnn", 32)
        rate = rates.cnn_images_per_second * cnn_training
    seconds = flops / rate + START_SECONDS[entry.family]
    if config.teacher or (changes or {}).get("teacher"):
        # The teacher's forward pass on every training image, at the rate of a backbone: the
        # student's own rate (the CNN's, a small network's) would make it look far slower.
        teacher_forward, _ = flops_per_image("resnet50", 32 * _teacher_upsampling(config))
        teacher_flops = config.epochs * train * teacher_forward
        flops += teacher_flops
        seconds += teacher_flops / rates.transfer_flops_per_second
    return Cost(flops, seconds)


def _teacher_upsampling(config) -> int:
    """The teacher's upsampling: ResNet50's in the student's profile (its main run)."""
    from cifarcmp.config import resolve

    return resolve("resnet50", config.profile).upsampling


@dataclass
class GroupCost:
    group: str
    trained: int = 0  # runs this group trains (the first group to ask for them)
    shared: int = 0  # folders filled by a run another group trains, or that another group listed first
    left: int = 0  # of `trained`, those not done yet
    seconds: float = 0.0
    seconds_left: float = 0.0
    flops: float = 0.0


def plan_costs(plan, rates: Rates | None = None) -> list[GroupCost]:
    """Per group of `plan` (cifarcmp.plan.Plan), in its order: what it trains and what that costs."""
    rates = rates or readme_rates(plan.settings.precision or "float32")
    counted: set[str] = set()
    by_name = {run.name: run for run in plan.runs}
    costs = []
    for group, runs in plan.groups.items():
        cost = GroupCost(group)
        for run in runs:
            source = by_name.get(run.same_as or run.name, run)
            if source.name in counted:
                cost.shared += 1
                continue
            counted.add(source.name)
            estimated = run_cost(source.config, source.changes, rates)
            cost.trained += 1
            cost.flops += estimated.flops
            cost.seconds += estimated.seconds
            if source.status != "done":
                cost.left += 1
                cost.seconds_left += estimated.seconds
        costs.append(cost)
    return costs


def hours(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def describe(plan, rates: Rates | None = None) -> str:
    """The lines `cifarcmp plan` prints under its list of runs."""
    precision = plan.settings.precision or "float32"
    rates = rates or readme_rates(precision)
    costs = plan_costs(plan, rates)
    lines = [
        f"estimated time on {rates.gpu} ({precision}; from counted FLOPs and {rates.source}; "
        "an upper bound where early stopping may end a run sooner):"
    ]
    width = max(len(cost.group) for cost in costs)
    for cost in costs:
        shared = f"; {cost.shared} shared with another group, trained once" if cost.shared else ""
        lines.append(
            f"  {cost.group:<{width}}  {_runs(cost.trained)}  {hours(cost.seconds):>8}"
            f"  ({cost.left} left to train: {hours(cost.seconds_left)}){shared}"
        )
    total, left = sum(cost.seconds for cost in costs), sum(cost.seconds_left for cost in costs)
    runs = sum(cost.trained for cost in costs)
    lines.append(f"  {'total':<{width}}  {_runs(runs)}  {hours(total):>8}  (left to train: {hours(left)})")
    return "\n".join(lines)


def _runs(count: int) -> str:
    return f"{count:>3} {'run' if count == 1 else 'runs':<4}"
