"""Every path the project uses, derived from one place."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS_ROOT = PROJECT_ROOT / "results"
DOCS_DIR = PROJECT_ROOT / "docs"
TEMPLATES_DIR = DOCS_DIR / "templates"
GENERATED_DIR = DOCS_DIR / "generated"
SITE_DIR = PROJECT_ROOT / "site"
