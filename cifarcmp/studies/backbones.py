"""The backbones study: the seed's ResNet50 against other `keras.applications` backbones under the
same head, optimiser and schedule, each with its own preprocessing and ImageNet weights (entries of
cifarcmp/architectures.py, each an arm of config.ARMS). BACKBONES= (`--backbones`) picks them.

Smoke form: one seed and, unless BACKBONES= names others, one backbone besides ResNet50
(MobileNetV3Large, the cheapest to build and train): the other backbones' building and weights are
covered by their own fast tests (tests/test_backbones.py), and five backbones more would add minutes
to a smoke build and no check.
"""

from cifarcmp import architectures, schema
from cifarcmp.errors import UserError
from cifarcmp.studies.study import Request, Study, Wanted

SEED_BACKBONE = "resnet50"
# Every transfer network but the seed's, in report order.
BACKBONES = tuple(
    name for name, entry in architectures.ARCHITECTURES.items() if entry.transfer and name != SEED_BACKBONE
)
SMOKE_BACKBONES = ("mobilenetv3large",)


def parse_backbones(text: str) -> tuple[str, ...]:
    """BACKBONES= / --backbones: comma-separated backbone names, each an entry of architectures."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in (SEED_BACKBONE, *BACKBONES)]
    if unknown or not names:
        raise UserError(f"unknown backbone {', '.join(unknown) or repr(text)}; choose from: {', '.join(BACKBONES)}")
    return tuple(dict.fromkeys(name for name in names if name != SEED_BACKBONE))


def chosen(request: Request) -> tuple[str, ...]:
    """The backbones a request trains besides ResNet50."""
    return request.backbones or (SMOKE_BACKBONES if request.smoke else BACKBONES)


def _runs(request: Request) -> list[Wanted]:
    return [
        # ResNet50's folder holds a copy of its main run (the same configuration).
        Wanted(name, 1.0, seed, request.root / "backbones" / name / f"seed-{seed}")
        for name in (SEED_BACKBONE, *chosen(request))
        for seed in request.seeds_where_spread_is_not_the_point()
    ]


STUDY = Study(
    name="backbones",
    description="the seed's ResNet50 against ResNet50V2, EfficientNetV2B0, MobileNetV3Large, ConvNeXtTiny and "
    "DenseNet121 under the same head, optimiser and schedule",
    runs=_runs,
    row_rules=schema.STUDY_FIGURES,
    title="Other backbones",
    page="improvements",
    table="cifarcmp.analysis.improvements:backbones_table",
    section="""\
Each backbone replaces ResNet50 under the seed's head (global average pooling, Dense 1024 and 512,
softmax), optimiser, learning rate and schedule, with its own `preprocess_input`, at the same input
size{% set resnet = narrative.models | selectattr("model", "equalto", "resnet50") | first %}{% if resnet and not resnet.pretrained %}.
In this build no ImageNet weights were loaded: every backbone started from random weights, as the
main ResNet50 runs did, so the table compares architectures, not what their pre-training transfers{% else %},
each from its own ImageNet weights{% endif %}. Parameters are counted from the built model, FLOPs from its
layers; ImageNet top-1 is as Keras (or, where Keras gives none, the weights' own source) states it.

{{ table(this.table) }}
""",
)
