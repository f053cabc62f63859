"""What the executed notebook pages read: what `cifarcmp render` wrote, never the results.

mkdocs-jupyter runs a Markdown notebook with the directory `mkdocs build` was started in as its
working directory (the project root), so `docs/generated/` is looked up from there first. The
pages read the figures' data render wrote there (report.figure_data), the banners and snippets.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

from cifarcmp import paths
from cifarcmp.errors import UserError
from cifarcmp.report import figure_data, figures
from cifarcmp.text import escape_markup

# The folder of a rendering where render puts its figures and the executed pages put theirs,
# each page's listed in DRAWN_LIST, so the next render knows them from a file a user put there.
PAGE_FIGURES = "figures"
DRAWN_LIST = ".drawn-by-pages"


def show_figure(directory: Path, figure, name: str, description: str):
    """Save `figure` as docs/generated/figures/<name>.png and return the HTML that shows it.

    A file linked by <img>, not a base64 copy inside the page: the page stays light, the image can
    be opened on its own (the lightbox) and downloaded. `description` is the alt text and the
    caption: what the figure shows (model, measure, seed). Displayed at the figure's size in
    inches x 100 px, the size its fonts were chosen for (`report.figures.WIDTH`).
    """
    from IPython.display import HTML

    figures.save(figure, directory / PAGE_FIGURES / f"{name}.png")
    with open(directory / PAGE_FIGURES / DRAWN_LIST, "a") as listed:
        listed.write(f"{name}.png\n")
    width, height = (round(size * 100) for size in figure.get_size_inches())
    source = f"../generated/figures/{name}.png"
    # Quotes escaped for the attribute, then the page's one rule for values (the description names runs).
    text = escape_markup(html.escape(description))
    return HTML(
        f'<figure class="report-figure"><img src="{source}" alt="{text}" width="{width}" height="{height}">'
        f'<figcaption>{text} <a href="{source}" download>Download (PNG)</a></figcaption></figure>'
    )


@dataclass
class Site:
    curves: list[figure_data.Curves]  # per model, each seed's history
    references: list[figure_data.Reference]  # per model, the run the Evidence figures show
    banner_html: str  # the synthetic-data warning and provenance of the main runs
    synthetic: bool
    directory: Path  # docs/generated/

    def snippet(self, name: str) -> str:
        """The HTML of `snippets/<name>.html`, written by `render` from its Markdown snippet."""
        return (self.directory / "snippets" / f"{name}.html").read_text(encoding="utf-8")

    def figure(self, figure, name: str, description: str):
        return show_figure(self.directory, figure, name, description)


@dataclass
class StudiesSite:
    ran: list[str]  # the studies this build shows; empty: none were run
    data_efficiency: dict | None  # per arm: label, fraction, mean, std, n; None: study not run
    gradcam: dict | None  # seed, arms, arm_labels, class_names; images, labels, heatmaps, predicted
    command: str  # what runs every study
    banner_html: str  # the synthetic-data warning and the provenance of the study runs
    directory: Path  # docs/generated/

    def figure(self, figure, name: str, description: str):
        return show_figure(self.directory, figure, name, description)


def _generated_dir(generated_dir: Path | str | None, record: str) -> Path:
    candidates = [Path(generated_dir)] if generated_dir else [Path.cwd() / "docs" / "generated", paths.GENERATED_DIR]
    directory = next((candidate for candidate in candidates if (candidate / record).is_file()), None)
    if directory is None:
        raise UserError(f"{candidates[0] / record}: missing; run `cifarcmp render RESULTS_DIR` first")
    return directory


def load_site(generated_dir: Path | str | None = None) -> Site:
    """What render wrote for the main runs' pages (run.json says it finished writing them)."""
    directory = _generated_dir(generated_dir, "run.json")
    site = json.loads((directory / "run.json").read_text())
    banner = (directory / "snippets" / "banner.html").read_text(encoding="utf-8")
    return Site(
        figure_data.read_curves(directory),
        figure_data.read_evidence(directory),
        banner,
        bool(site["synthetic"]),
        directory,
    )


def load_studies_site(generated_dir: Path | str | None = None) -> StudiesSite:
    """What render wrote for the studies' pages."""
    directory = _generated_dir(generated_dir, "studies.json")
    record = json.loads((directory / "studies.json").read_text())
    banner = (directory / "snippets" / "studies-banner.html").read_text(encoding="utf-8")
    series, panels = figure_data.read_studies(directory)
    return StudiesSite(record["studies"], series, panels, record["command"], banner, directory)
