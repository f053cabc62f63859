"""cifarcmp: ResNet50 transfer learning versus a CNN trained from scratch on CIFAR-10.

The package follows the direction data flows, one folder per stage:

    data/ -> train/ -> results.py (the contract) -> analysis/ (pure) -> report/ -> the site
    config.py (every run's settings), paths.py, errors.py: shared by all; cli.py: on top.

Each folder's docstring says its role and what it may import.
"""

__version__ = "0.1.0"
