"""The arms study: the seed's ResNet50 fine-tuned, the same network as a frozen feature extractor,
from random initialisation, and the scratch CNN, on the same split and seeds (arms of config.ARMS).

It separates what the seed's comparison mixes: ImageNet weights, fine-tuning and architecture.
"""

from cifarcmp import schema
from cifarcmp.studies.study import Request, Study, Wanted

ARMS = ("resnet50", "resnet50-frozen", "resnet50-random", "cnn")


def _runs(request: Request) -> list[Wanted]:
    return [
        Wanted(arm, 1.0, seed, request.root / "arms" / arm / f"seed-{seed}") for arm in ARMS for seed in request.seeds
    ]


STUDY = Study(
    name="arms",
    description="ResNet50 fine-tuned (the seed's), ResNet50 as a frozen feature extractor, ResNet50 from "
    "random initialisation, and the CNN, on the same split",
    runs=_runs,
    row_rules=schema.STUDY_FIGURES,
    title="Arms: compute accounting",
    table="cifarcmp.report.tables:arms_table",
    section="""\
FLOPs are counted from each model's Conv2D and Dense layers (two per multiply-add, plus biases);
a training step costs three forward passes for trainable layers and one for frozen ones, per
training image seen. Wall time per epoch includes validation; the total includes loading, testing
and writing the results.

{{ table(this.table) }}
""",
)
