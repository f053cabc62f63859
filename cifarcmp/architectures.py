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

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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
    # weights file Keras downloads, with the hash Keras checks it by: an md5 for most files, a
    # sha256 for ConvNeXt's (keras.utils.get_file picks the algorithm by the digest's length).
    # Exactly one of weights_md5 and weights_sha256 is set; `weights_hash` says which.
    application: str = ""
    preprocessing: str = ""
    weights_file: str = ""
    weights_md5: str = ""
    weights_sha256: str = ""
    # TRANSFER only: the smallest image side the backbone accepts. keras.applications refuses
    # smaller inputs (obtain_input_shape(min_size=32), MobileNetV3's own check), so 32 * upsampling
    # must reach it; at 32 px every backbone here ends in a 1 x 1 feature map.
    min_image_size: int = 32
    # TRANSFER only: ImageNet top-1 accuracy of the weights as a fraction, and where it is stated.
    imagenet_top1: float | None = None
    imagenet_top1_source: str = ""
    # RunConfig fields of the seed's protocol (the `paper` profile), and what each cheaper profile
    # changes, with the reason beside it in the entry.
    protocol: Mapping[str, object] = field(default_factory=dict)
    profile_changes: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    @property
    def transfer(self) -> bool:
        """An ImageNet backbone: upsampled inputs, ImageNet weights, a frozen-feature arm."""
        return self.family == TRANSFER

    @property
    def weights_hash(self) -> tuple[str, str]:
        """(algorithm, hex digest) Keras checks the ImageNet weights file by: ("md5", ...) or ("sha256", ...)."""
        return ("sha256", self.weights_sha256) if self.weights_sha256 else ("md5", self.weights_md5)


# Where Keras documents the ImageNet top-1 accuracy of its weights: the "Available models" table
# of keras.io/api/applications (keras-team/keras-io, templates/api/applications/index.md).
KERAS_TABLE = "https://keras.io/api/applications/"

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
    imagenet_top1=0.749,
    imagenet_top1_source=KERAS_TABLE,
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
        # Smoke checks the pipeline, and the tests train it a dozen times: momentum 0.9 (listed as a
        # deviation) learns the synthetic data far above chance from 5,000 images in 4 epochs
        # (measured: 99.7 % test accuracy, 38 s on 2 cores), where the seed's plain SGD needed
        # 9,000 images and 6 epochs to reach 63 % (100 s).
        "smoke": {
            "data": "synthetic",
            "validation_size": 1000,
            "train_subset": 5000,
            "test_subset": 1000,
            "epochs": 4,
            "momentum": 0.9,
            "early_stopping_patience": 3,
        },
    },
)

# Other keras.applications backbones, for the backbones study: each under the seed's head,
# optimiser and schedule (RESNET50's protocol), with its own preprocessing and weights. None is in
# the seed's report, so only a study that names them trains them. They take ResNet50's profile
# cuts unchanged, so that in every profile they compare with ResNet50's runs on the same images,
# epochs and resolution (smoke's 32 px and quick's 64 px are above each one's minimum of 32).
_BACKBONE = {"family": TRANSFER, "protocol": RESNET50.protocol, "profile_changes": RESNET50.profile_changes}

RESNET50V2 = Architecture(
    name="resnet50v2",
    label="ResNet50V2 (fine-tuned)",
    short_label="ResNet50V2",
    colour="tab:red",
    gradcam_layer="resnet50v2",  # the backbone, one layer named as keras.applications names it
    application="ResNet50V2",
    preprocessing="resnet_v2",  # "tf" mode: scaled to [-1, 1]
    weights_file="resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
    weights_md5="fac2f116257151a9d068a22e544a4917",
    imagenet_top1=0.760,
    imagenet_top1_source=KERAS_TABLE,
    **_BACKBONE,
)

EFFICIENTNETV2B0 = Architecture(
    name="efficientnetv2b0",
    label="EfficientNetV2B0 (fine-tuned)",
    short_label="EfficientNetV2B0",
    colour="tab:brown",
    gradcam_layer="efficientnetv2-b0",
    application="EfficientNetV2B0",
    # Its preprocess_input passes images through: the model rescales them itself
    # (include_preprocessing=True, the default, which its ImageNet weights expect).
    preprocessing="efficientnet_v2",
    weights_file="efficientnetv2-b0_notop.h5",
    weights_md5="893217f2bb855e2983157299931e43ff",
    imagenet_top1=0.787,
    imagenet_top1_source=KERAS_TABLE,
    **_BACKBONE,
)

MOBILENETV3LARGE = Architecture(
    name="mobilenetv3large",
    label="MobileNetV3Large (fine-tuned)",
    short_label="MobileNetV3Large",
    colour="tab:pink",
    gradcam_layer="MobileNetV3Large",
    application="MobileNetV3Large",
    # Pass-through as well: with include_preprocessing=True (the default, kept) the model's own
    # Rescaling layer maps [0, 255] to the [-1, 1] its ImageNet weights expect. Turning it off
    # without scaling here would feed the weights pixels 127 times too large.
    preprocessing="mobilenet_v3",
    weights_file="weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
    weights_md5="07fb09a5933dd0c8eaafa16978110389",
    # Not in Keras' applications table; the table in Keras' MobileNetV3 docstring (the
    # keras.io page of the function) gives mobilenet_v3_large_1.0_224 a top-1 of 75.6.
    imagenet_top1=0.756,
    imagenet_top1_source="https://keras.io/api/applications/mobilenet/#mobilenetv3large-function",
    **_BACKBONE,
)

CONVNEXTTINY = Architecture(
    name="convnexttiny",
    label="ConvNeXtTiny (fine-tuned)",
    short_label="ConvNeXtTiny",
    colour="tab:olive",
    gradcam_layer="convnext_tiny",
    application="ConvNeXtTiny",
    # Pass-through: the model normalises with ImageNet's channel statistics itself.
    preprocessing="convnext",
    weights_file="convnext_tiny_notop.h5",
    weights_sha256="d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1",
    # Keras documents no top-1 for ConvNeXt; its weights are converted from the official
    # repository, whose README gives ConvNeXt-T (ImageNet-1K, 224 px) acc@1 82.1.
    imagenet_top1=0.821,
    imagenet_top1_source="https://github.com/facebookresearch/ConvNeXt#results-and-pre-trained-models",
    **_BACKBONE,
)

DENSENET121 = Architecture(
    name="densenet121",
    label="DenseNet121 (fine-tuned)",
    short_label="DenseNet121",
    colour="tab:cyan",
    gradcam_layer="densenet121",
    application="DenseNet121",
    preprocessing="densenet",  # "torch" mode: scaled to [0, 1], then ImageNet mean and std
    weights_file="densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
    weights_md5="30ee3e1110167f948a6b9946edeeb738",
    imagenet_top1=0.750,
    imagenet_top1_source=KERAS_TABLE,
    **_BACKBONE,
)

# In report order: every table and figure lists them so.
ARCHITECTURES: dict[str, Architecture] = {
    entry.name: entry
    for entry in (RESNET50, CNN, RESNET50V2, EFFICIENTNETV2B0, MOBILENETV3LARGE, CONVNEXTTINY, DENSENET121)
}


def get(name: str) -> Architecture:
    """The entry of model `name`; UserError naming the choices otherwise."""
    if name not in ARCHITECTURES:
        raise UserError(f"unknown model {name!r}; choose one of: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def check_weights_file(path: Path, entry: Architecture | None = None) -> None:
    """Refuse a weights file that says it is Keras' ImageNet file of a backbone but is not.

    A file named as a backbone's Keras "notop" file must have the hash Keras checks that file by,
    with that entry's algorithm: otherwise it is a partial or damaged copy, and training on it
    would be training on something else under ImageNet's name. Given `entry`, a file named as
    another backbone's Keras file is refused too. Files with other names (weights of one's own)
    are left to Keras' loader, which refuses those whose layers do not fit. No Keras here: this
    runs before a backend is loaded.
    """
    path = Path(path)
    named_as = [other for other in ARCHITECTURES.values() if other.weights_file and other.weights_file == path.name]
    if not named_as:
        return
    claimed = named_as[0]
    if entry is not None and claimed.name != entry.name:
        raise UserError(
            f"--weights {path}: {claimed.short_label}'s ImageNet weights, not {entry.short_label}'s "
            f"(its file is {entry.weights_file})"
        )
    algorithm, expected = claimed.weights_hash
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise UserError(
            f"--weights {path}: not Keras' {claimed.short_label} ImageNet file ({algorithm} "
            f"{digest.hexdigest()}, expected {expected}); a partial or damaged copy? download it again"
        )
