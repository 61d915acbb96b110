"""gibench-plugin-modern: detectors of 2023–2025 as a separately installed gibench plugin.

- ``npr`` (:mod:`gibench_modern.npr`): Tan et al., CVPR 2024;
- ``safe`` (:mod:`gibench_modern.safe`): Li et al., KDD 2025;
- ``univfd`` (:mod:`gibench_modern.univfd`): Ojha et al., CVPR 2023.

Each module is an entry point of the group ``gibench`` (see ``pyproject.toml``) and imports
only :mod:`gibench.api` from gibench, as any third-party plugin would.
"""

__version__ = "0.1.0"
