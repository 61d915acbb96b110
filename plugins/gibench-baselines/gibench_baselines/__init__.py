"""The GenImage baselines as gibench plugins, one module (and entry point) per detector."""

__version__ = "0.1.0"
