"""The suite API: what a suite's ``run(ctx)`` receives, and all that a suite may use.

A suite (:class:`gibench.specs.SuiteSpec`, registered with ``gibench_add_suites``) is a
protocol: which models to train or load, which evaluations to run, how to tabulate them. Its
``run`` is called with one :class:`SuiteContext` per run and returns nothing; the evaluations it
asks for are recorded as result rows (``results.csv``) and per-image scores (``scores.csv``) by
the engine, which then calls the suite's ``render(results, subsets)`` for ``results.md``.

Everything a suite may touch is here — the built-in suites (``gibench.builtin.suites``,
``robustness``, ``datascale``) use nothing else, and a test holds them to it::

    from gibench.suite import CLEAN, SuiteContext

    def run(ctx: SuiteContext) -> None:
        ctx.check_available([ctx.train_subset, *ctx.test_subsets])
        model = ctx.model_for(ctx.train_subset)           # trained once, or --weights
        for subset in ctx.test_subsets:
            ctx.evaluate_settings(model, subset, [CLEAN, ctx.setting("jpeg", 65)])

A suite runs on every process of a ``torchrun`` job alike: evaluations are sharded and gathered
by the engine, and the ``write_*`` methods write on rank 0 only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from gibench.data.layout import ImageIndex
from gibench.engine.evaluate import CLEAN, Setting
from gibench.engine.models import TrainedModel
from gibench.errors import GibenchError
from gibench.outputs import atomic_write_csv, atomic_write_text
from gibench.rundir import GIVEN_WEIGHTS  # result rows' train_subset for given weights
from gibench.specs import DegradationSpec, SubsetSpec

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from gibench.engine.context import RunContext

__all__ = ["CLEAN", "GIVEN_WEIGHTS", "ImageIndex", "Model", "Setting", "SuiteContext",
           "evaluate_together", "load_weights_together"]

#: A model of the run, as :meth:`SuiteContext.model_for` returns it: ``model`` (the
#: ``nn.Module``), ``train_subset`` (the subset or tag it was trained on; ``None`` for given
#: weights), ``checkpoint`` and ``sha256`` (its file), ``threshold`` (calibrated on the
#: held-out part of its training subset; ``None`` when unknown). Pass it back to the
#: evaluation methods; do not change it.
Model = TrainedModel


class SuiteContext:
    """What a suite's ``run`` receives: one run's subsets, models, evaluations and outputs.

    Names given to it may be aliases; what it returns is canonical. Subsets are given by name
    (:attr:`train_subset`, :attr:`test_subsets`, :meth:`subset` for the spec), degradation
    settings as :class:`Setting` (``CLEAN`` for none; :meth:`setting` builds the others).
    """

    __slots__ = ("_run",)

    def __init__(self, run: RunContext) -> None:
        self._run = run

    def __repr__(self) -> str:
        return (f"<SuiteContext {self.suite!r}: {self.detector} on {self.dataset} "
                f"({self._run.run_dir})>")

    # -- the run ---------------------------------------------------------------------------
    @property
    def detector(self) -> str:
        """The detector's canonical name."""
        return self._run.spec.name

    @property
    def suite(self) -> str:
        """This suite's canonical name."""
        return self._run.suite.name

    @property
    def dataset(self) -> str:
        """The run's training dataset: its only dataset, or in a run given several datasets'
        roots the dataset of :attr:`train_subset` (with given weights, the one whose held-out
        part calibrates them)."""
        return self._run.dataset

    @property
    def datasets(self) -> list[str]:
        """Every dataset the run reads, the training dataset first, then the others in the
        order their roots were given (``--data-root NAME=PATH``); one for most runs."""
        return self._run.names.datasets

    @property
    def train_split(self) -> str | None:
        """The dataset's training split (``train`` on GenImage): what models train on."""
        return self._run.resolved.train_split

    @property
    def eval_split(self) -> str:
        """The training dataset's evaluation split (``val`` on GenImage); the ``evaluate*``
        methods score each test subset's own dataset's evaluation split when no ``split`` is
        given."""
        return self._run.resolved.eval_split

    @property
    def seed(self) -> int:
        """The run's seed: use it for any random choice a suite makes (e.g. which part of a
        subset to train on), so that a run is reproducible."""
        return self._run.config.seed

    @property
    def weights_given(self) -> bool:
        """Whether the run evaluates given weights (``--weights``) instead of training:
        :meth:`model_for` then returns them whatever subset it is asked for."""
        return self._run.config.weights is not None

    # -- subsets ---------------------------------------------------------------------------
    @property
    def train_subset(self) -> str:
        """The training subset: ``--train-subset``, else the dataset's default. With given
        weights, the subset whose held-out part calibrates their threshold."""
        return self._run.resolved.train_subset

    @property
    def requested_train_subset(self) -> str | None:
        """``--train-subset`` (canonical) when it was given, else ``None`` (a suite that trains
        on every subset trains on this one alone when it is given)."""
        requested = self._run.config.train_subset
        return self._run.names.subset_spec(requested).name if requested else None

    @property
    def test_subsets(self) -> list[str]:
        """The test subsets: ``--test-subsets``, else every subset of every dataset of the run,
        dataset by dataset, then the user's folders (``--subset-dir``). A subset of a dataset
        other than the training dataset is named ``DATASET/NAME`` (its *run name*; pass it back
        as it is); :meth:`subset` gives its spec, whose ``dataset`` says which."""
        return list(self._run.resolved.test_subsets)

    @property
    def requested_test_subsets(self) -> list[str] | None:
        """``--test-subsets`` (canonical) when given, else ``None`` (a suite whose default is
        not every subset, e.g. the training subset alone, uses it to tell)."""
        return self.test_subsets if self._run.config.test_subsets else None

    def subset(self, name: str) -> SubsetSpec:
        """The spec of subset ``name`` (display name, family, dataset, whether it is a
        control...); ``name`` may be ``DATASET/NAME``."""
        return self._run.names.subset_spec(name)

    def run_name(self, spec: SubsetSpec) -> str:
        """The name the run gives subset ``spec`` (of one of :attr:`datasets`): its plain name
        in the training dataset, ``DATASET/NAME`` in another; what the other methods take."""
        return self._run.names.run_name(spec)

    def dataset_subsets(self, dataset: str | None = None) -> list[SubsetSpec]:
        """The specs of every registered subset of ``dataset`` (default: the training
        dataset), in registration order."""
        return self._run.names.dataset_subsets(dataset)

    def run_subsets(self) -> list[SubsetSpec]:
        """The specs of the run's subsets: its datasets', then its ``--subset-dir`` folders
        (what its tables show)."""
        return self._run.names.run_subsets()

    def check_available(self, subsets: Sequence[str]) -> None:
        """Fail now, before any work, when a subset's folder is missing under the data root."""
        self._run.check_available(list(subsets))

    def train_index(self, subset: str) -> ImageIndex:
        """The files of ``subset``'s ``train`` split (paths and labels; no pixels): pick a part
        of it to train on with :meth:`model_for`'s ``index``."""
        return self._run.index(subset, self._run.resolved.train_split)

    # -- degradations ----------------------------------------------------------------------
    @property
    def degradations(self) -> list[Setting]:
        """The settings asked for with ``--degradation`` (empty when none was)."""
        return self._run.settings

    def degradation(self, name: str) -> DegradationSpec:
        """The spec of degradation ``name`` (its ``paper_settings``, ``sweep``...)."""
        return self._run.names.degradation(name)

    def setting(self, spec: DegradationSpec | str, strength: float | None = None) -> Setting:
        """Degradation ``spec`` (a spec, a name or an alias) at ``strength`` (left out: its
        default) as a :class:`Setting`, named ``NAME:STRENGTH`` in the result rows."""
        return self._run.names.setting(spec, strength)

    # -- models ----------------------------------------------------------------------------
    def model_for(self, train_subset: str | None, *, index: ImageIndex | None = None,
                  tag: str | None = None) -> Model:
        """The model trained on ``train_subset``'s ``train`` split (trained on first use, read
        back when the run is resumed), or the given weights when :attr:`weights_given` (then
        ``train_subset`` may be ``None``).

        ``index``: train on that part of the subset's train split (from :meth:`train_index`)
        instead; ``tag`` then names the model — its folder under ``train/``, its key in
        ``run.json`` and its rows' ``train_subset`` column."""
        return self._run.model_for(train_subset, index=index, tag=tag)

    def load_weights(self) -> Model:
        """The given weights (``--weights``), loaded once, with their threshold calibrated on
        the held-out part of :attr:`train_subset` when its data is here."""
        _require_weights(self)
        return self._run.model_for(None)

    def release(self, train_subset_or_tag: str) -> None:
        """Forget a trained model (its checkpoint stays on disk): a suite that trains several
        keeps one in memory at a time."""
        self._run.release(train_subset_or_tag)

    # -- evaluations -----------------------------------------------------------------------
    def evaluate(self, model: Model, test_subset: str, split: str | None = None
                 ) -> dict[str, Any]:
        """Score ``test_subset``'s ``split`` with ``model``, clean; record and return the
        result row (a dict of the ``results.csv`` columns: ``acc``, ``auc``...)."""
        return self._run.evaluate(model, test_subset, split)

    def evaluate_settings(self, model: Model, test_subset: str, settings: Sequence[Setting],
                          split: str | None = None) -> list[dict[str, Any]]:
        """Score ``test_subset`` under every setting (``CLEAN`` and/or degradations, applied
        at the images' native resolution), each file decoded once; record and return one row
        per setting, in order."""
        return self._run.evaluate_settings(model, test_subset, list(settings), split)

    def evaluate_many(self, models: Sequence[Model], test_subset: str,
                      settings: Sequence[Setting] | None = None,
                      split: str | None = None) -> list[list[dict[str, Any]]]:
        """Score ``test_subset`` with every model in one pass over its files (each decoded
        once), clean — one row per model — or under every setting. Records and returns each
        model's rows, the same as evaluating the models one by one."""
        return self._run.evaluate_many(list(models), test_subset,
                                       list(settings) if settings is not None else None, split)

    # -- result rows -----------------------------------------------------------------------
    def rows(self, **match: Any) -> list[dict[str, Any]]:
        """Copies of the result rows recorded so far whose columns equal ``match``
        (``ctx.rows(train_subset="sdv4", degradation="none")``); all of them without."""
        return [dict(row) for row in self._run.records.rows
                if all(row.get(k) == v for k, v in match.items())]

    def results(self) -> pd.DataFrame:
        """The result rows recorded so far, as ``results.csv`` will hold them."""
        return self._run.records.results_frame()

    def order_by_model(self, train_subsets: Sequence[str]) -> None:
        """Order the recorded rows and scores by training subset (or tag), in this order,
        stably: a suite that evaluates many models per test subset in one pass then writes its
        tables model by model."""
        self._run.records.order_by_model(train_subsets)

    # -- extra files -----------------------------------------------------------------------
    def write_file(self, name: str, write: Callable[[Path], None]) -> None:
        """Write ``name`` in the run directory atomically: ``write(path)`` writes a temporary
        file, which then replaces ``name`` whole (readers never see a torn file). Rank 0 only;
        ``name`` is a plain file name."""
        if Path(name).name != name or name.startswith("."):
            raise GibenchError(f"a suite's extra file is a plain name in the run directory, "
                               f"not {name!r}")
        if not self._run.job.main:
            return
        path = self._run.run_dir / name
        tmp = path.with_name(f".{name}.tmp")
        try:
            write(tmp)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)

    def write_csv(self, name: str, frame: pd.DataFrame) -> None:
        """Write ``frame`` as CSV file ``name`` in the run directory, atomically (rank 0)."""
        self.write_file(name, lambda path: atomic_write_csv(path, frame))

    def write_text(self, name: str, text: str) -> None:
        """Write ``text`` as file ``name`` in the run directory, atomically (rank 0)."""
        self.write_file(name, lambda path: atomic_write_text(path, text))


def _require_weights(ctx: SuiteContext) -> None:
    if not ctx.weights_given:
        raise GibenchError(f"suite {ctx.suite!r} evaluates existing weights: "
                           "pass {weights=}PATH", params=["weights"])


# -- several runs at once ----------------------------------------------------------------------
def load_weights_together(contexts: Sequence[SuiteContext]) -> list[Model]:
    """Each run's given weights, as :meth:`SuiteContext.load_weights`; runs that calibrate on
    the same held-out images score them in one pass (``gibench eval`` with several models)."""
    from gibench.engine.models import load_weights_shared

    for ctx in contexts:
        _require_weights(ctx)
    runs = [ctx._run for ctx in contexts]
    return load_weights_shared([(run, Path(run.config.weights)) for run in runs])


def evaluate_together(pairs: Sequence[tuple[SuiteContext, Model]], test_subset: str,
                      settings: Sequence[Setting] | None = None,
                      split: str | None = None) -> list[list[dict[str, Any]]]:
    """Evaluate each (run, model) pair on ``test_subset`` in one pass over its files, each run
    recording what :meth:`SuiteContext.evaluate_many` would have recorded for its model alone.
    The runs must read the data alike (one data root, ``--align``, seed, workers, device)."""
    from gibench.engine.evaluation import evaluate_shared

    return evaluate_shared([(ctx._run, model) for ctx, model in pairs], test_subset,
                           list(settings) if settings is not None else None, split)
