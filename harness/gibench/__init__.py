"""gibench: a benchmark harness for detectors of AI-generated images."""

__version__ = "0.1.0"


def run(detector: str, suite: str = "cross-generator", **options):
    """Run a suite for a detector; returns ``results.csv`` as a pandas DataFrame.

    See :func:`gibench.engine.run.run` for the options.
    """
    from gibench.engine.run import run as _run

    return _run(detector, suite, **options)


def resume(run_dir, **options):
    """Continue an interrupted run from its run directory; returns its results.

    See :func:`gibench.engine.run.resume`.
    """
    from gibench.engine.run import resume as _resume

    return _resume(run_dir, **options)


def evaluate(detector: str, weights, **options):
    """Evaluate a detector's weights on every subset's val split.

    See :func:`gibench.engine.run.evaluate` for the options.
    """
    from gibench.engine.run import evaluate as _evaluate

    return _evaluate(detector, weights, **options)


def score(detector: str, weights, paths, **options):
    """Score image files or folders; returns (per-image DataFrame, summary dict).

    See :func:`gibench.engine.score.score` for the options.
    """
    from gibench.engine.score import score as _score

    return _score(detector, weights, list(paths), **options)


from gibench.hookspecs import hookimpl  # noqa: E402  (plugins write @gibench.hookimpl)

__all__ = ["__version__", "evaluate", "hookimpl", "run", "score"]
