"""The data-efficiency study: the fine-tuned, frozen and scratch arms on stratified fractions of the
training split (1 %, 10 %, 100 % by default; FRACTIONS=), to see whether transfer matters more when
labelled images are few.
"""

from cifarcmp import schema
from cifarcmp.studies.study import Request, Study, Wanted

ARMS = ("resnet50", "resnet50-frozen", "cnn")


def _runs(request: Request) -> list[Wanted]:
    wanted = []
    for arm in ARMS:
        for fraction in request.fractions:
            for seed in request.seeds:
                # The full-data point is the arms study's run: one folder, trained once.
                folder = (
                    request.root / "arms" / arm / f"seed-{seed}"
                    if fraction == 1
                    else request.root / "data-efficiency" / arm / f"fraction-{fraction:g}" / f"seed-{seed}"
                )
                wanted.append(Wanted(arm, fraction, seed, folder))
    return wanted


STUDY = Study(
    name="data-efficiency",
    description="the fine-tuned, frozen and scratch arms on stratified fractions of the training split "
    "(1 %, 10 %, 100 % by default)",
    runs=_runs,
    row_rules=schema.STUDY_FIGURES,
    title="Data efficiency",
    table="cifarcmp.analysis.claims:data_efficiency_table",
    section="{{ table(this.table) }}\n",
)
