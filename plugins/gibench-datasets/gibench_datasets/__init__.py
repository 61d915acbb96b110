"""The field's test datasets as gibench dataset plugins, each in the layout its authors ship.

One module per dataset, each registered by its own entry point (group ``gibench``) and citing,
in its docstring, where its folder names come from:

- :mod:`~gibench_datasets.forensynths`: CNNDetection's test set (``forensynths``);
- :mod:`~gibench_datasets.ufd`: UniversalFakeDetect's diffusion set (``ufd``);
- :mod:`~gibench_datasets.aigcdetect`: AIGCDetectBenchmark's test set (``aigcdetect``);
- :mod:`~gibench_datasets.synthbuster`: Synthbuster, with RAISE-1k as a second root
  (``synthbuster``);
- :mod:`~gibench_datasets.chameleon`: Chameleon (``chameleon``);
- :mod:`~gibench_datasets.wildrf`: WildRF (``wildrf``);
- :mod:`~gibench_datasets.aigibench`: AIGIBench's test subsets (``aigibench``);
- :mod:`~gibench_datasets.holmes`: AIGI-Holmes' TestSet (``aigi-holmes``);
- :mod:`~gibench_datasets.genimage_safe`: GenImage in the AIDE/SAFE layout
  (``genimage-safe``).

The modules import only :mod:`gibench.api`; the core imports none of them.
"""

__version__ = "0.1.0"
