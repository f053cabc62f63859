"""The Keras and TensorFlow versions the project pins (pyproject.toml), to set beside those a run recorded.

A run trained on Colab records Colab's TensorFlow (2.19, say), not the pinned 2.21: its numbers
may differ for that reason alone, so the report says so wherever it shows a run's versions.
"""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement

from cifarcmp import paths

# Distribution names in pyproject.toml -> the key a manifest's "versions" uses.
PINNED_PACKAGES = {"keras": "keras", "tensorflow": "tensorflow", "tensorflow-cpu": "tensorflow"}


def pinned_versions() -> dict[str, str]:
    """{"keras": "3.15.1", "tensorflow": "2.21.0"} from pyproject.toml's `==` pins; {} where it is not there."""
    try:
        project = tomllib.loads((paths.PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    except (OSError, ValueError, KeyError):
        return {}
    requirements = [*project.get("dependencies", []), *project.get("optional-dependencies", {}).get("cpu", [])]
    pinned = {}
    for text in requirements:
        requirement = Requirement(text)  # packaging's parser (matplotlib depends on it), not a regex
        exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if exact and requirement.name.lower() in PINNED_PACKAGES:
            pinned.setdefault(PINNED_PACKAGES[requirement.name.lower()], exact[0])
    return pinned
