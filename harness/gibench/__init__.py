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
    """Score image files or folders (``paths``: one path, or a list of them); returns
    (per-image DataFrame, summary dict).

    See :func:`gibench.engine.score.score` for the options.
    """
    from gibench.engine.score import score as _score

    return _score(detector, weights, paths, **options)


def replay(run_dir, out=None, **options):
    """Run the experiment recorded in ``run_dir`` again into the new run directory ``out``;
    returns that directory.

    See :func:`gibench.engine.replay.replay`.
    """
    from gibench.engine.replay import replay as _replay

    return _replay(run_dir, out, **options)


def compare(run_a, run_b, atol: float = 0.0):
    """Whether two run directories agree: configuration, versions, scores and metrics; returns
    a :class:`gibench.comparison.Comparison` (``.agree``, ``.render()``, ``.to_dict()``).

    See :func:`gibench.comparison.compare`.
    """
    from gibench.comparison import compare as _compare

    return _compare(run_a, run_b, atol=atol)


from gibench.hookspecs import hookimpl  # noqa: E402  (plugins write @gibench.hookimpl)

__all__ = ["__version__", "compare", "evaluate", "hookimpl", "replay", "resume", "run", "score"]
