"""The augmentation study: both seed models with the seed's protocol (no augmentation: the main runs,
copied, never trained again) against three augmentations of the training split, each a RunConfig
`augmentation` (done in the input pipeline by the training stage, seeded): flip and pad-and-crop,
Keras' RandAugment, and MixUp (which mixes the labels too).

Smoke form: one seed and ResNet50 only, with every variant: each variant is its own path through
the input pipeline, which a smoke build exists to check, and that pipeline is the same for both
models; ResNet50's smoke run (one epoch at 32 px) costs about half the CNN's, and a second seed or
model would add minutes and no check (`make report PROFILE=smoke SEEDS=2` with every study must
train in under 15 minutes on 2 cores).
"""

from cifarcmp import schema
from cifarcmp.studies.study import Request, Study, Wanted

MODELS = ("resnet50", "cnn")
NONE = "none"  # the seed's protocol: the main run
# RunConfig `augmentation` value -> what the tables call it.
VARIANTS = {NONE: "none (the seed's)", "flip-crop": "flip and crop", "randaugment": "RandAugment", "mixup": "MixUp"}


def _runs(request: Request) -> list[Wanted]:
    wanted = []
    for model in MODELS[:1] if request.smoke else MODELS:
        for value, name in VARIANTS.items():
            for seed in request.seeds_where_spread_is_not_the_point():
                folder = request.root / "augmentation" / model / value / f"seed-{seed}"
                # No change for the seed's protocol: its configuration is the main run's, so the plan
                # copies that run here instead of training it again.
                changes = {} if value == NONE else {"augmentation": value}
                wanted.append(Wanted(model, 1.0, seed, folder, changes, name))
    return wanted


STUDY = Study(
    name="augmentation",
    description="both models without augmentation (the seed's protocol) against flip and crop, RandAugment "
    "and MixUp on the training split",
    runs=_runs,
    row_rules=schema.STUDY_FIGURES,
    title="Data augmentation",
    page="improvements",
    table="cifarcmp.analysis.improvements:augmentation_table",
    section="""\
The seed trained on the images as they are. Here each model also trains with one augmentation of
the training split, applied in the input pipeline and seeded: random horizontal flips with a
4-pixel pad and crop, Keras' RandAugment, or MixUp, which blends pairs of images and their labels.
Validation and test images are never augmented. Every other setting is the seed's, the number of
epochs included; augmentation often needs more epochs to pay off, so a variant that loses here may
only be one that stopped too soon. The change is each variant against the same model's runs
without augmentation, paired on the test images of the same seed.

{{ table(this.table) }}
""",
)
