"""The Grad-CAM study: trains nothing. Every run writes Grad-CAM maps of two test images per class
(gradcam.npz); this study collects those of the arms study's runs for the Studies page.
"""

from pathlib import Path

from cifarcmp import schema
from cifarcmp.studies.study import Study


def _row(row: dict, folder: Path) -> dict:
    return {**{key: row[key] for key in schema.STUDY_RUN}, "has_gradcam": (folder / "gradcam.npz").is_file()}


STUDY = Study(
    name="gradcam",
    description="Grad-CAM heat maps of two test images per class for every arm",
    reads="arms",
    row=_row,
    row_rules={"has_gradcam": schema.BOOLEAN},
    title="Grad-CAM",
    section="""\
{% if studies.gradcam -%}
Heat maps of the same test images for every arm are drawn on [Study figures](../notebooks/study-figures.md).
{%- else -%}
No run of the arms study kept Grad-CAM maps, so there are none to draw.
{%- endif %}
""",
)
