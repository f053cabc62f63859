"""One commented configuration per run, resolved from a profile and saved as `config.json`.

Profiles:
- `paper`: the seed report's protocol, exactly. Meant for a GPU.
- `quick`: real CIFAR-10, cut down so both models finish in about 15 minutes on a 2-core CPU.
- `smoke`: synthetic data, both models in a few minutes on 2 cores: for tests and first runs.

Every field that differs from `paper` is listed in `deviations`, so a reader of a `quick` or
`smoke` run sees exactly what was cut.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from cifarcmp import architectures
from cifarcmp.errors import UserError

# The networks, in report order; each one's protocol and profiles are its entry in cifarcmp/architectures.py.
MODELS = tuple(architectures.ARCHITECTURES)
# The seed report's two: every report's main runs (the others train only in the studies that name them).
SEED_MODELS = tuple(name for name, entry in architectures.ARCHITECTURES.items() if entry.in_seed_report)
# The opt-in studies of the seed's claims (run through the plan like every run; cifarcmp/studies/ summarises them, the report reads them).
PROFILES = ("paper", "quick", "smoke")
# Arithmetic precision: float32 throughout (the seed's), or Keras' mixed precision (train/models.py).
PRECISIONS = ("float32", "mixed")
# Training-split augmentations (train/augmentation.py): none (the seed's), a horizontal flip with a
# random shift of up to 4 px (pad and crop, He et al. 2016), Keras' RandAugment, Keras' MixUp.
AUGMENTATIONS = ("none", "flip-crop", "randaugment", "mixup")
# The largest upsampling factor: 7 takes CIFAR-10's 32 px to the 224 px ImageNet weights were trained at.
MAX_UPSAMPLING = 7
# A bound on `epochs`, so config.json's per-epoch schedule stays a small file.
MAX_EPOCHS = 10_000


@dataclass(frozen=True)
class RunConfig:
    model: str  # an entry of cifarcmp.architectures: "resnet50" (ImageNet transfer) or "cnn" (from scratch)
    profile: str  # "paper", "quick" or "smoke"
    data: str = "cifar10"  # "cifar10" (official download), "synthetic", or a local path
    weights: str = "imagenet"  # transfer models only: "imagenet", "none" (random init) or a .h5 path
    seed: int = 0  # seeds the split, the subsets, the weight initialisation and the shuffling
    arm: str = ""  # the study arm this run belongs to (see ARMS); empty: the model's own protocol

    # Optimisation. The seed report: plain SGD, lr 0.01, batch 64, sparse categorical
    # cross-entropy, accuracy.
    learning_rate: float = 0.01  # initial SGD learning rate
    momentum: float = 0.0  # the seed used SGD's default, no momentum
    batch_size: int = 64  # images per step
    epochs: int = 6  # maximum number of epochs

    # Learning-rate schedule: constant for `lr_constant_epochs`, then multiplied by
    # exp(-lr_decay_per_epoch) every epoch. The seed names "constant, then exponential decay"
    # but gives no constants, and reports the rate stayed at 0.01 for all six epochs. The
    # schedule in the documentation of Keras' LearningRateScheduler (constant for 10 epochs,
    # then lr * exp(-0.1)) does exactly that, so we take its constants.
    lr_constant_epochs: int = 10  # epochs at the initial rate
    lr_decay_per_epoch: float = 0.1  # exponent of the per-epoch decay after that

    # Early stopping on validation loss, best weights restored. 0 turns it off (ResNet50 in the
    # seed ran a fixed 6 epochs). The seed's CNN stopped at epoch 17 of 50 but names no patience;
    # 3 is the value Keras' EarlyStopping documentation uses, and it is our assumption.
    early_stopping_patience: int = 0  # epochs without val_loss improvement before stopping

    # Data. The seed validated on the test set; we hold out a stratified validation split from
    # the 50,000 training images instead and evaluate the test set once, after training.
    validation_size: int = 5000  # images held out of the training set, stratified
    train_subset: int = 0  # images of the remaining training split used (0: all of them)
    test_subset: int = 0  # test images evaluated (0: all 10,000); stratified when cut

    train_fraction: float = 1.0  # share of those training images used (data-efficiency study), stratified

    # Architecture.
    freeze_base: bool = False  # transfer models: train only the head on frozen ImageNet features
    upsampling: int = 7  # transfer models: nearest-neighbour factor, 32 px -> 224 px as in the seed
    dropout: tuple[float, float, float] = (0.25, 0.25, 0.5)  # cnn: after each block, after Dense 512

    # Arithmetic. The seed trained in float32. "mixed" computes in bfloat16 (GPUs of compute
    # capability 8.0 and later) or float16 (older GPUs, with loss scaling), keeping the weights
    # and the softmax output in float32: faster on GPUs with tensor cores (up to 3x, says
    # TensorFlow's guide), at a small cost in precision, so it is listed as a deviation.
    precision: str = "float32"  # "float32" or "mixed"

    # Augmentation of the training images (never validation or test), in the input pipeline
    # (train/augmentation.py): one of AUGMENTATIONS. The seed used none. Each batch is augmented
    # by layers seeded from the run's seed, the epoch and the batch, so a rerun or a resumed run
    # sees the same images. "mixup" mixes the labels too, so its runs train on one-hot labels with
    # categorical cross-entropy; every run's reported figures are computed alike, on plain images.
    augmentation: str = "none"

    # Knowledge distillation (train/distillation.py, keras.distillation.Distiller with
    # LogitsDistillation): the folder of a finished run whose kept model teaches this one (empty:
    # none, as in the seed). The kept model of this run is the student's alone. The two constants
    # are Keras' defaults (LogitsDistillation's temperature, Distiller's student_loss_weight),
    # written here so a run records them whatever a later Keras defaults to.
    teacher: str = ""
    distillation_temperature: float = 3.0  # softens both models' outputs before they are compared
    distillation_alpha: float = 0.5  # weight of the labels' cross-entropy; 1 - alpha weighs the teacher's

    deviations: tuple[str, ...] = field(default=())  # how this run departs from the seed's protocol

    @property
    def name(self) -> str:
        """What the report calls this run's model: the study arm, else the model."""
        return self.arm or self.model

    @property
    def image_size(self) -> int:
        """Side of the image the network body sees, in pixels."""
        return 32 * self.upsampling if architectures.get(self.model).transfer else 32

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """The configuration a run's config.json holds (to_dict's derived fields dropped)."""
        values = {item.name: data[item.name] for item in fields(cls) if item.name in data}
        return cls(**{**values, **{key: tuple(values[key]) for key in ("dropout", "deviations") if key in values}})

    def to_dict(self) -> dict:
        data = asdict(self)
        data["image_size"] = self.image_size
        data["lr_schedule"] = [learning_rate_for_epoch(self, epoch) for epoch in range(self.epochs)]
        return data


def learning_rate_for_epoch(config: RunConfig, epoch: int) -> float:
    """The rate used during `epoch` (0-based): constant, then exponential decay."""
    decayed_epochs = max(0, epoch - config.lr_constant_epochs + 1)
    return config.learning_rate * math.exp(-config.lr_decay_per_epoch * decayed_epochs)


def paper_config(model: str) -> RunConfig:
    """The seed's protocol for `model` (`paper` uses it unchanged), from its entry in
    cifarcmp/architectures.py, which also says what each cheaper profile changes, and why."""
    return RunConfig(model=model, profile="paper", **architectures.get(model).protocol)


# Defaults compared against `paper` only where the field is part of the protocol.
_NOT_PROTOCOL = {"profile", "seed", "deviations", "data", "weights", "arm", "teacher"}

# The arms a run can belong to: every network of cifarcmp/architectures.py under its own protocol,
# and the two variants of the transfer-learning study (Kornblith et al. 2019 compare the same
# three): ResNet50 as a frozen feature extractor, and ResNet50 from random initialisation (which
# separates the architecture from the pretraining).
ARMS = {
    "resnet50": ("resnet50", {}),
    "resnet50-frozen": ("resnet50", {"freeze_base": True}),
    "resnet50-random": ("resnet50", {"weights": "none"}),
    **{model: (model, {}) for model in MODELS if model != "resnet50"},
}


def resolve_arm(arm: str, profile: str, **overrides) -> RunConfig:
    """The configuration of a study arm: its model's protocol with the arm's changes."""
    if arm not in ARMS:
        raise UserError(f"unknown arm {arm!r}; choose one of: {', '.join(ARMS)}")
    model, changes = ARMS[arm]
    merged = {**overrides, **changes}
    if changes.get("weights") == "none":
        merged["weights"] = "none"
    return resolve(model, profile, arm="" if arm == model else arm, **merged)


def resolve(model: str, profile: str = "paper", **overrides) -> RunConfig:
    """The configuration for `model` under `profile`, with command-line overrides applied."""
    entry = architectures.get(model)
    if profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    paper = paper_config(model)
    changes = dict(entry.profile_changes.get(profile, {}))
    changes.update({key: value for key, value in overrides.items() if value is not None})
    if isinstance(changes.get("teacher"), Path):  # a study may name the teacher's folder as a Path
        changes["teacher"] = str(changes["teacher"])
    known = {f.name for f in fields(RunConfig)}
    unknown = set(changes) - known
    if unknown:
        raise ValueError(f"unknown configuration fields: {sorted(unknown)}")
    config = replace(paper, profile=profile, **changes)
    if config.precision not in PRECISIONS:
        raise UserError(f"unknown precision {config.precision!r}; choose one of: {', '.join(PRECISIONS)}")
    if not 0 < config.train_fraction <= 1:
        raise UserError(f"training fraction {config.train_fraction} is outside (0, 1]")
    _check_training_changes(config, paper)
    deviations = [
        f"{name}: {getattr(config, name)!r} instead of {getattr(paper, name)!r}"
        for name in sorted(known - _NOT_PROTOCOL)
        if getattr(config, name) != getattr(paper, name)
    ]
    if config.data != "cifar10":
        deviations.append(f"data: {config.data!r} instead of the official CIFAR-10 download")
    if entry.transfer and config.weights != "imagenet":
        deviations.append(f"weights: {config.weights!r} instead of ImageNet")
    if config.teacher:
        # The folder's last three parts name the teacher (<tag>/<model>/seed-<N>); the full path
        # stays in config.json, and the teacher's model hash in the manifest.
        shown = "/".join(Path(config.teacher).parts[-3:])
        deviations.append(f"teacher: distilled from the run {shown!r} instead of trained on the labels alone")
    return replace(config, deviations=tuple(deviations))


def _positive_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _whole_number(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_training_changes(config: RunConfig, paper: RunConfig) -> None:
    """The fields a study or `cifarcmp train` may change, each refused in one line when it cannot work."""
    if not _positive_number(config.learning_rate):
        raise UserError(f"learning rate {config.learning_rate!r}: not a positive finite number (the seed's is 0.01)")
    if not _whole_number(config.epochs) or not 1 <= config.epochs <= MAX_EPOCHS:
        raise UserError(f"epochs {config.epochs!r}: not a whole number from 1 to {MAX_EPOCHS:,}")
    entry = architectures.get(config.model)
    if not _whole_number(config.upsampling) or not 1 <= config.upsampling <= MAX_UPSAMPLING:
        raise UserError(
            f"upsampling {config.upsampling!r}: not a whole number from 1 to {MAX_UPSAMPLING} "
            f"(the factor from 32 px; {MAX_UPSAMPLING} gives 224 px)"
        )
    if not entry.transfer and config.upsampling != paper.upsampling:
        raise UserError(
            f"upsampling {config.upsampling}: the {entry.short_label} sees 32 px images; only transfer models upsample"
        )
    if entry.transfer and 32 * config.upsampling < entry.min_image_size:
        smallest = math.ceil(entry.min_image_size / 32)
        raise UserError(
            f"upsampling {config.upsampling}: {entry.short_label} needs images of at least "
            f"{entry.min_image_size} px; use {smallest} or more"
        )
    if config.augmentation not in AUGMENTATIONS:
        raise UserError(f"unknown augmentation {config.augmentation!r}; choose one of: {', '.join(AUGMENTATIONS)}")
    if not isinstance(config.teacher, str):
        raise UserError(f"teacher {config.teacher!r}: not a folder")
    if not _positive_number(config.distillation_temperature):
        raise UserError(f"distillation temperature {config.distillation_temperature!r}: not a positive finite number")
    alpha = config.distillation_alpha
    if not (isinstance(alpha, int | float) and not isinstance(alpha, bool) and 0 <= alpha < 1):
        raise UserError(
            f"distillation alpha {alpha!r}: outside [0, 1) (the weight of the labels; 1 would ignore the teacher)"
        )
    distillation = (config.distillation_temperature, config.distillation_alpha)
    if not config.teacher and distillation != (paper.distillation_temperature, paper.distillation_alpha):
        raise UserError("distillation temperature and alpha apply only to a run with a teacher (--teacher RUN)")


def results_tag(config: RunConfig) -> str:
    """The folder under results/ for a run's profile; it says when the data is not the profile's own."""
    if config.profile == "smoke":
        return "smoke" if config.data == "synthetic" else "smoke-real"
    return f"{config.profile}-synthetic" if config.data == "synthetic" else config.profile


def default_run_dir(config: RunConfig):
    from cifarcmp.paths import RESULTS_ROOT

    return RESULTS_ROOT / results_tag(config) / config.name / f"seed-{config.seed}"


# The seed report's published figures, shown beside ours as a reference and never computed.
# It trained with plain SGD at 0.01, batch 64, and validated on the test set.
SEED_REPORT = {
    "resnet50": {
        "epochs": "6 of 6",
        "learning_rate": "0.01",
        "batch_size": "64",
        "test_accuracy": "95.33 %",
        "test_accuracy_value": 0.9533,
        "test_loss": "0.1792",
        "parameters": "26,215,818",
    },
    "cnn": {
        "epochs": "17 of 50 (early stop)",
        "learning_rate": "0.01",
        "batch_size": "64",
        "test_accuracy": "77 %",
        "test_accuracy_value": 0.77,
        "test_loss": "0.6967",
        "parameters": "1,250,858",
    },
}
