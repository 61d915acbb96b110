"""Whether two runs agree (``gibench compare RUN_A RUN_B``, :func:`gibench.compare`).

Two runs agree when they ran the same configuration with the same versions and wrote the same
scores. :func:`compare` reads both run directories (through :mod:`gibench.rundir` alone) and
lays out every difference:

- the configuration (``run.json``'s ``config``, the sha256 of given weights, and what the
  configuration ``resolved`` to), less what is expected to differ between two runs of one
  experiment (:data:`EXPECTED_TO_DIFFER`: where it ran from and to, the data's and weights'
  paths, and how it ran: :data:`gibench.engine.run.RESUME_OVERRIDES`), which is listed apart;
- the versions: gibench, torch, torchvision, Python, every plugin's distribution, version,
  status and origin, and gibench's git state;
- the per-image scores: identical, or the largest |Δ logit| and how many images differ (and
  images only one run scored);
- the result rows: each metric of each row of ``results.csv`` that differs, with both runs'
  bootstrap 95% intervals of the accuracy and the AUC.

The device, its name, the number of processes and the evaluation precision are reported as the
``environment``, which does not decide agreement (scores do).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gibench.rundir import HEADLINE_METRICS, KEY_COLUMNS, RunDir, RunRecord

#: Configuration fields that two runs of one experiment may differ in: the run directory and
#: the command line, where the data and the weights lie (the data's resolved dataset and the
#: weights' sha256 are compared instead), the user folders' paths, and how the run ran (the
#: fields ``--resume`` may change: :data:`gibench.engine.run.RESUME_OVERRIDES`).
EXPECTED_TO_DIFFER: tuple[str, ...] = ("out", "command", "data_root", "weights")
#: Fields of ``resolved`` that depend on the machine or the paths, not on the experiment.
_RESOLVED_EXPECTED = ("data_root", "workers")
#: The metrics compared per row, besides the headline ones.
_MORE_METRICS = ("eer", "tpr_at_fpr1", "tpr_at_fpr5", "n_real", "n_fake", "n_skipped")
#: The metrics with a bootstrap 95% interval in ``results.csv``.
_CI_METRICS = ("acc", "auc")
_SCORE_KEY = ["train_subset", "test_subset", "degradation", "path"]


@dataclass
class Comparison:
    """The differences between two runs (:func:`compare`); ``agree`` says whether there are
    none that matter. Each difference is ``{"field", "a", "b"}`` (``None``: absent)."""

    run_a: str
    run_b: str
    #: configuration differences that make the runs different experiments
    config: list[dict[str, Any]] = field(default_factory=list)
    #: configuration differences expected between two runs of one experiment
    expected: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    environment: list[dict[str, Any]] = field(default_factory=list)
    scores: dict[str, Any] = field(default_factory=dict)
    #: one entry per result row of either run: its key, the metrics that differ, both CIs
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: |Δ logit| up to which two scores count as equal
    atol: float = 0.0

    @property
    def scores_agree(self) -> bool:
        s = self.scores
        return not (s["only_in_a"] or s["only_in_b"] or s["label_differs"] or s["differing"])

    @property
    def rows_agree(self) -> bool:
        """Both runs have the same rows, and (comparing scores exactly) the same metrics: a
        difference within a tolerance ``atol`` may move a metric, which is then reported only."""
        return all(row["in"] == "both" and (self.atol > 0 or not row["differences"])
                   for row in self.rows)

    @property
    def agree(self) -> bool:
        return not (self.config or self.versions) and self.scores_agree and self.rows_agree

    def to_dict(self) -> dict[str, Any]:
        """The comparison as ``gibench compare --json`` prints it (NaN as ``null``)."""
        return _json_safe({
            "agree": self.agree, "run_a": self.run_a, "run_b": self.run_b, "atol": self.atol,
            "config": self.config, "expected_differences": self.expected,
            "versions": self.versions, "environment": self.environment,
            "scores": self.scores, "rows": self.rows})

    def render(self) -> str:
        """The comparison as ``gibench compare`` prints it: the verdict, then each difference."""
        lines = [f"A: {self.run_a}", f"B: {self.run_b}"]

        def section(title: str, items: list[dict[str, Any]]) -> None:
            lines.append(f"{title}: " + ("same" if not items else f"{len(items)} difference(s)"))
            lines.extend(f"  {d['field']}: {_show(d['a'], d.get('absent') == 'a')} -> "
                         f"{_show(d['b'], d.get('absent') == 'b')}" for d in items)

        section("config", self.config)
        if self.expected:
            lines.append("  expected to differ: " + ", ".join(d["field"] for d in self.expected))
        section("versions", self.versions)
        if self.environment:
            section("environment (informative)", self.environment)
        s = self.scores
        if s["identical"]:
            lines.append(f"scores: identical ({s['compared']} images"
                         + (", byte for byte" if s["bytes_identical"] else "") + ")")
        else:
            lines.append(f"scores: {s['differing']} of {s['compared']} images differ "
                         f"(|Δ logit| > {self.atol:g}); max |Δ logit| "
                         f"{s['max_abs_logit_diff']:.6g}"
                         + (f"; {s['label_differs']} labels differ" if s["label_differs"] else "")
                         + (f"; only in A: {s['only_in_a']}" if s["only_in_a"] else "")
                         + (f"; only in B: {s['only_in_b']}" if s["only_in_b"] else ""))
            for w in s["largest"]:
                lines.append(f"  {w['train_subset']} / {w['test_subset']} / {w['degradation']}"
                             f" {w['path']}: {_show(w['logit_a'])} -> {_show(w['logit_b'])}")
        differing = [r for r in self.rows if r["in"] != "both" or r["differences"]]
        lines.append(f"results: {len(self.rows) - len(differing)} of {len(self.rows)} rows the "
                     "same" + (":" if differing else ""))
        for row in differing:
            lines.append("  " + " / ".join(str(row["key"][k]) for k in
                                           ("train_subset", "test_subset", "degradation")))
            if row["in"] != "both":
                lines.append(f"    only in {row['in']}")
            for name, d in row["differences"].items():
                ci = row["ci"].get(name)
                bounds = (f"  95% CI A [{_show(ci['a'][0])}, {_show(ci['a'][1])}], "
                          f"B [{_show(ci['b'][0])}, {_show(ci['b'][1])}]" if ci else "")
                lines.append(f"    {name}: {_show(d['a'])} -> {_show(d['b'])} "
                             f"(Δ {_show(d['delta'])}){bounds}")
        lines.append("the runs agree" if self.agree else "the runs DIFFER")
        return "\n".join(lines)


def compare(run_a: str | Path, run_b: str | Path, atol: float = 0.0) -> Comparison:
    """Compare the run directories ``run_a`` and ``run_b``: configuration, versions, per-image
    scores (equal when |Δ logit| <= ``atol``; 0: exactly) and result rows. Returns the
    :class:`Comparison` (``.agree``, ``.render()``, ``.to_dict()``);
    :class:`~gibench.rundir.RunDirError` naming the file when a run directory lacks
    ``run.json``, ``scores.csv`` or ``results.csv``."""
    if not atol >= 0:
        from gibench.errors import GibenchError

        raise GibenchError(f"{{atol}} must be at least 0, got {atol}", params=["atol"])
    a_dir, b_dir = RunDir(Path(run_a)), RunDir(Path(run_b))
    a, b = RunRecord.read(a_dir.path), RunRecord.read(b_dir.path)
    config, expected = _split_expected(differences(_experiment(a), _experiment(b)))
    return Comparison(
        run_a=str(a_dir.path), run_b=str(b_dir.path), config=config, expected=expected,
        versions=version_differences(a, b), environment=differences(_environment(a),
                                                                    _environment(b)),
        scores=_compare_scores(a_dir, b_dir, atol), rows=_compare_rows(a_dir, b_dir),
        atol=float(atol))


# -- configuration, versions, environment ---------------------------------------------------

def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one mapping of dotted keys (``versions.plugins.toy.version``); a list
    or an empty mapping is one value."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """``{"field", "a", "b"}`` for each dotted key whose values differ; a key one side lacks
    has the value ``None`` there and ``"absent": "a"`` (or ``"b"``)."""
    flat_a, flat_b = flatten(a), flatten(b)
    keys = list(flat_a) + [k for k in flat_b if k not in flat_a]
    out = []
    for key in keys:
        va, vb = flat_a.get(key), flat_b.get(key)
        if key in flat_a and key in flat_b and _same(va, vb):
            continue
        diff = {"field": key, "a": va, "b": vb}
        if key not in flat_a or key not in flat_b:
            diff["absent"] = "a" if key not in flat_a else "b"
        out.append(diff)
    return out


def version_differences(a: RunRecord, b: RunRecord) -> list[dict[str, Any]]:
    """The versions (gibench, torch, torchvision, Python, every plugin) and git states in which
    two records differ."""
    return differences({**a.versions, "git": a.git}, {**b.versions, "git": b.git})


def _experiment(record: RunRecord) -> dict[str, Any]:
    """What defines the experiment: the configuration, the given weights' checksum and the
    resolved facts."""
    return {"config": record.config,
            "weights_sha256": (record.weights or {}).get("sha256"),
            "resolved": record.resolved}


def _split_expected(diffs: list[dict[str, Any]]
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from gibench.engine.run import RESUME_OVERRIDES

    config_fields = (*EXPECTED_TO_DIFFER, *RESUME_OVERRIDES)
    expected_keys = [f"config.{f}" for f in config_fields] + \
        [f"resolved.{f}" for f in _RESOLVED_EXPECTED]

    def expected(key: str) -> bool:
        parts = key.split(".")
        if parts[:2] == ["config", "subset_dirs"] and parts[-1] == "path":
            return True
        return any(key == k or key.startswith(k + ".") for k in expected_keys)

    return ([d for d in diffs if not expected(d["field"])],
            [d for d in diffs if expected(d["field"])])


def _environment(record: RunRecord) -> dict[str, Any]:
    return {"device": record.device, "processes": record.processes,
            "process_group": record.process_group, "eval_precision": record.eval_precision}


# -- scores and rows ------------------------------------------------------------------------

def _compare_scores(a_dir: RunDir, b_dir: RunDir, atol: float) -> dict[str, Any]:
    a, b = a_dir.read_scores(), b_dir.read_scores()
    for frame in (a, b):  # the same image twice in one group (never written so): pair in order
        frame["_n"] = frame.groupby(_SCORE_KEY, sort=False).cumcount()
    merged = a.merge(b, on=[*_SCORE_KEY, "_n"], how="outer", suffixes=("_a", "_b"),
                     indicator=True, sort=False)
    both = merged[merged["_merge"] == "both"]
    la, lb = both["logit_a"].astype(float), both["logit_b"].astype(float)
    delta = (la - lb).abs()
    equal = (la == lb) | (la.isna() & lb.isna())
    differ = ~equal & ~(delta <= atol)
    labels = int((both["label_a"] != both["label_b"]).sum())
    order = delta.where(~equal, -1.0).fillna(math.inf).sort_values(ascending=False)
    largest = [{k: both.at[i, k] for k in (*_SCORE_KEY[:3], "path", "logit_a", "logit_b")}
               for i in order.index[:5] if not equal[i]]
    only_a = int((merged["_merge"] == "left_only").sum())
    only_b = int((merged["_merge"] == "right_only").sum())
    return {
        "images_a": len(a), "images_b": len(b), "compared": len(both),
        "only_in_a": only_a, "only_in_b": only_b, "label_differs": labels,
        "differing": int(differ.sum()),
        "max_abs_logit_diff": float(delta.max()) if len(delta) and delta.notna().any() else 0.0,
        "identical": bool(equal.all()) and not (only_a or only_b or labels),
        "bytes_identical": a_dir.scores.read_bytes() == b_dir.scores.read_bytes(),
        "largest": largest,
    }


def _compare_rows(a_dir: RunDir, b_dir: RunDir) -> list[dict[str, Any]]:
    a, b = a_dir.read_results(), b_dir.read_results()
    key = [c for c in (*KEY_COLUMNS, "align", "eval_transform")
           if c in a.columns and c in b.columns]
    metrics = [m for m in (*HEADLINE_METRICS, *_MORE_METRICS)
               if m in a.columns or m in b.columns]
    merged = a.merge(b, on=key, how="outer", suffixes=("_a", "_b"), indicator=True, sort=False)
    where = {"both": "both", "left_only": "A", "right_only": "B"}
    rows = []
    for rec in merged.to_dict("records"):
        row: dict[str, Any] = {"key": {k: rec[k] for k in key}, "in": where[rec["_merge"]],
                               "differences": {}, "ci": {}}
        if row["in"] == "both":
            for m in metrics:
                va, vb = _metric(rec, m, "a"), _metric(rec, m, "b")
                if not _same(va, vb):
                    delta = vb - va if va is not None and vb is not None else None
                    row["differences"][m] = {"a": va, "b": vb, "delta": delta}
            for m in _CI_METRICS:
                if m in row["differences"]:
                    row["ci"][m] = {s: [_metric(rec, f"{m}_ci_low", s),
                                        _metric(rec, f"{m}_ci_high", s)] for s in "ab"}
        rows.append(row)
    return rows


def _metric(rec: dict[str, Any], name: str, side: str) -> float | None:
    value = rec.get(f"{name}_{side}")
    return None if value is None else float(value)


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    return x == y


def _show(value: Any, absent: bool = False) -> str:
    if absent:
        return "(absent)"
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value) if isinstance(value, str) else str(value)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item"):  # a numpy scalar
        return _json_safe(value.item())
    return value
