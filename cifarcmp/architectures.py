"""The networks the report can train, as data: one entry each, registered in ARCHITECTURES.

An entry holds everything the package needs to know about a network apart from building it:
its family (a `keras.applications` backbone under the seed's transfer head, or the seed's scratch
CNN), the backbone's constructor and preprocessing, the layer Grad-CAM explains, the name and
colour the report gives it, its ImageNet weights file with the file's hash, and the seed's
protocol for it with what each cheaper profile changes. `cifarcmp.train.models` builds a network
from its entry; the configuration, the plan, the analysis and the report read the entry. Adding a
`keras.applications` backbone is one entry here, plus its tests.

No Keras here: planning and rendering must not load a backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cifarcmp.errors import UserError

TRANSFER, SCRATCH = "transfer", "scratch"


@dataclass(frozen=True)
class Architecture:
    name: str  # the config's `model`, the results folder's name
    label: str  # what the report calls it in figures and tables
    short_label: str  # in the main comparison, where only the seed's two models stand
    colour: str  # its colour in every figure (a matplotlib colour name)
    family: str  # TRANSFER (ImageNet backbone, the seed's head) or SCRATCH (the seed's CNN)
    gradcam_layer: str  # the last convolutional stage, whose feature maps Grad-CAM weighs
    # One of the seed report's two models: the main runs of every report. Other entries are
    # trained only by the studies that ask for them.
    in_seed_report: bool = False
    # TRANSFER only: the `keras.applications` constructor, the module whose `preprocess_input`
    # the images go through (inside the model, on the accelerator), and the ImageNet "notop"
    # weights file Keras downloads, with the md5 Keras checks it by.
    application: str = ""
    preprocessing: str = ""
    weights_file: str = ""
    weights_md5: str = ""
    # RunConfig fields of the seed's protocol (the `paper` profile), and what each cheaper profile
    # changes, with the reason beside it in the entry.
    protocol: Mapping[str, object] = field(default_factory=dict)
    profile_changes: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    @property
    def transfer(self) -> bool:
        """An ImageNet backbone: upsampled inputs, ImageNet weights, a frozen-feature arm."""
        return self.family == TRANSFER


# Measured on a 2-core CPU (TensorFlow 2.21): ResNet50 at 224 px trains at about 5 images/s, at
# 64 px at about 90 images/s (and predicts at about 280); quick's cut takes about 7 minutes.
RESNET50 = Architecture(
    name="resnet50",
    label="ResNet50 (fine-tuned)",
    short_label="ResNet50",
    colour="tab:blue",
    family=TRANSFER,
    in_seed_report=True,
    # ResNet50's base output (conv5_block3_out, 7 x 7 at 224 px): the backbone is one layer, named
    # as keras.applications names its model.
    gradcam_layer="resnet50",
    application="ResNet50",
    preprocessing="resnet50",
    weights_file="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    weights_md5="4d473c1dd8becc155b73f8504c6f6626",
    protocol={"epochs": 6},
    profile_changes={
        "quick": {"upsampling": 2, "train_subset": 8000, "epochs": 3},
        "smoke": {
            "data": "synthetic",
            "weights": "none",
            "upsampling": 1,
            "validation_size": 1000,
            "train_subset": 1000,
            "test_subset": 1000,
            "epochs": 1,
        },
    },
)

# The CNN trains at about 1,800 images/s on the same CPU: quick takes about 4 minutes.
CNN = Architecture(
    name="cnn",
    label="CNN (scratch)",
    short_label="CNN",
    colour="tab:orange",
    family=SCRATCH,
    in_seed_report=True,
    gradcam_layer="relu_4",  # the last ReLU after the last convolution (13 x 13)
    protocol={"epochs": 50, "early_stopping_patience": 3, "weights": "none"},
    profile_changes={
        "quick": {"epochs": 8},
        "smoke": {
            "data": "synthetic",
            "validation_size": 1000,
            "train_subset": 9000,
            "test_subset": 1000,
            "epochs": 6,
            "early_stopping_patience": 3,
        },
    },
)

# In report order: every table and figure lists them so.
ARCHITECTURES: dict[str, Architecture] = {entry.name: entry for entry in (RESNET50, CNN)}


def get(name: str) -> Architecture:
    """The entry of model `name`; UserError naming the choices otherwise."""
    if name not in ARCHITECTURES:
        raise UserError(f"unknown model {name!r}; choose one of: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]
