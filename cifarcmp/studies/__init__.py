"""Stage 3b, studies: the opt-in studies of the seed report's claims, one module each.

A study is one module defining one `Study` (study.py), registered below: its runs, its summary
row, its row contract, its description, its section of its page and the function that builds its
table. Adding a study is one module and one line here (plus, when its table needs new maths, that
function in the analysis or report stage).

A study's runs are planned by `cifarcmp.plan` and trained by the executors; `summaries` writes what
the report reads. The study modules import only `cifarcmp.config`, `cifarcmp.schema` and
`study.py` (the plan imports them); `summaries` may import the plan. Never Keras, the training
stage, the executors, analysis or report.
"""

from cifarcmp.studies import (
    arms,
    augmentation,
    backbones,
    data_efficiency,
    distillation,
    ensembles,
    gradcam,
    learning_rate,
    resolution,
)
from cifarcmp.studies.study import Study

# In the order their pages list them: the seed's claims (Studies), then the improvements it proposed.
STUDIES: dict[str, Study] = {
    study.name: study
    for study in (
        arms.STUDY,
        data_efficiency.STUDY,
        gradcam.STUDY,
        augmentation.STUDY,
        backbones.STUDY,
        resolution.STUDY,
        ensembles.STUDY,
        distillation.STUDY,
        learning_rate.STUDY,
    )
}
