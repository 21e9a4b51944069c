"""The paper's claims as data, and their check on measured per-query results (a paired bootstrap).

A claim is a list of comparisons "row A beats row B on a metric" between rows of the published
tables (a row is named by its table, its dataset column and the labels of ``paper_tables.yaml``).
One comparison pairs A and B by seed and by test query (``taco.paired``): the mean per-query
difference in the claimed direction with its 95 % crossed-bootstrap interval, and is

- ``reproduced`` when the interval lies above 0,
- ``not reproduced`` when it lies below 0,
- ``inconclusive`` otherwise (the minimum detectable effect says how large a difference could be seen),
- ``missing runs`` when a side has no per-query results (or the sides share no seed or query).

A claim is not reproduced as soon as one of its comparisons is not; otherwise it is missing runs,
inconclusive or reproduced, in that order of precedence. Every claim also states whether the
paper's own numbers support it on the chosen metric (they all do; a test checks it).

Metrics are text-to-video and named as in ``paper_tables.yaml`` (``r1``, ``r5``, ``r10``, ``r50``,
``mr``); ``rsum`` = R@1 + R@5 + R@10, the default of the claims, is less noisy than R@1 alone. Per
query, R@K is 0 or 100 (tie-exact: the expected value) and ranks (``mr``, ``mean_r``) are the query's
expected rank, so a rank claim compares mean ranks.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from taco.metrics import summarize_over_seeds
from taco.paired import Interval, PerSeed, paired_difference, paired_ratio_difference

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, MISSING = "reproduced", "not reproduced", "inconclusive", "missing runs"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, MISSING)
DIRECTIONS = ("higher", "lower")
RSUM_PARTS = ("r1", "r5", "r10")
RANK_METRICS = ("mr", "mean_r")


def metric_value(values: Mapping[str, float], metric: str) -> float:
    """A text-to-video metric from a mapping of paper-named metrics; ``rsum`` is R@1 + R@5 + R@10."""
    if metric == "rsum":
        return sum(values[part] for part in RSUM_PARTS)
    return values[metric]


def per_query_value(values: Mapping[str, np.ndarray], metric: str) -> np.ndarray:
    """The per-query values of a claim metric from per-query ``r1``, ``r5``, ..., ``rank`` arrays:
    ``rsum`` sums R@1, R@5, R@10; rank metrics read the expected rank."""
    return values["rank"] if metric in RANK_METRICS else metric_value(values, metric)


def metric_label(metric: str) -> str:
    return {"rsum": "R@1+R@5+R@10", "mr": "MR", "mean_r": "mean rank"}.get(metric, f"R@{metric.removeprefix('r')}")


@dataclass(frozen=True)
class RowRef:
    """One row of a published table in one dataset column, e.g. Table 2's ``features=r152, method=taco`` on YouCook2."""

    table: str
    column: str
    labels: tuple[tuple[str, object], ...]

    def matches(self, row: Mapping[str, object]) -> bool:
        return all(row.get(key) == value for key, value in self.labels)

    def describe(self) -> str:
        labels = ", ".join(f"{key}={value}" for key, value in self.labels)
        return f"{self.table} {self.column} [{labels}]"


def row(table: str, column: str, **labels: object) -> RowRef:
    return RowRef(table, column, tuple(labels.items()))


@dataclass(frozen=True)
class RatioRef:
    """The ratio of the mean of a metric between two rows (e.g. zero-shot over finetuned): a claim
    about how much of a result transfers rather than about its level."""

    numerator: RowRef
    denominator: RowRef

    def describe(self) -> str:
        return f"{self.numerator.describe()} / {self.denominator.describe()}"


Side = RowRef | RatioRef


@dataclass(frozen=True)
class Claim:
    """A claim of the paper: in every comparison (a, b), a's metric is ``direction`` than b's."""

    table: str
    description: str
    comparisons: tuple[tuple[Side, Side], ...]
    metric: str = "rsum"
    direction: str = "higher"

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"claim '{self.description}': direction must be one of {DIRECTIONS}, "
                             f"got {self.direction!r}")
        if not self.comparisons:
            raise ValueError(f"claim '{self.description}' has no comparison")
        for a, b in self.comparisons:
            if type(a) is not type(b):
                raise ValueError(f"claim '{self.description}': compares a row with a ratio")


@dataclass(frozen=True)
class Summary:
    """Mean, sample std and number of seeds of one measured quantity."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> "Summary":
        mean, std = summarize_over_seeds(values)
        return cls(mean, std, len(values))


Measured = Callable[[RowRef], PerSeed | None]
"""A row's per-query results by seed (None when it has none)."""


def paired_interval(better: Side, worse: Side, measured: Measured, metric: str, direction: str) -> Interval | None:
    """The paired bootstrap of "better is ``direction`` than worse" (None when a side has no results)."""
    def value(values):
        return per_query_value(values, metric)

    higher = direction == "higher"
    if isinstance(better, RowRef):
        a, b = measured(better), measured(worse)
        return paired_difference(a, b, value, higher) if a and b else None
    sides = [measured(ref) for ref in (better.numerator, better.denominator, worse.numerator, worse.denominator)]
    return paired_ratio_difference(*sides, value, higher) if all(sides) else None


def comparison_verdict(interval: Interval | None) -> str:
    """The verdict on a paired difference in the claimed direction (see the module docstring)."""
    if interval is None:
        return MISSING
    if interval.low > 0:
        return REPRODUCED
    if interval.high < 0:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def claim_verdict(verdicts: Sequence[str]) -> str:
    """A claim holds when all its comparisons do; one opposite comparison refutes it."""
    for verdict in (NOT_REPRODUCED, MISSING, INCONCLUSIVE):
        if verdict in verdicts:
            return verdict
    return REPRODUCED


@dataclass(frozen=True)
class ComparisonCheck:
    better: Side
    worse: Side
    interval: Interval | None
    paper_better: float
    paper_worse: float
    verdict: str


@dataclass(frozen=True)
class ClaimCheck:
    claim: Claim
    comparisons: tuple[ComparisonCheck, ...]
    verdict: str
    paper_supports: bool


def check_claim(claim: Claim, measured: Measured, paper: Callable[[RowRef], Mapping[str, float]]) -> ClaimCheck:
    """Check ``claim`` on per-query measured results (``measured(row)``: seed -> per-query values, None
    when missing) and on the paper's numbers (``paper(row)``: the published metrics of the row)."""
    def published(side: Side) -> float:
        if isinstance(side, RowRef):
            return metric_value(paper(side), claim.metric)
        return published(side.numerator) / published(side.denominator)

    checks = []
    paper_supports = True
    for better, worse in claim.comparisons:
        paper_a, paper_b = published(better), published(worse)
        paper_supports &= paper_a > paper_b if claim.direction == "higher" else paper_a < paper_b
        interval = paired_interval(better, worse, measured, claim.metric, claim.direction)
        checks.append(ComparisonCheck(better, worse, interval, paper_a, paper_b, comparison_verdict(interval)))
    return ClaimCheck(claim, tuple(checks), claim_verdict([c.verdict for c in checks]), paper_supports)


def median_mde(checks: Sequence[ClaimCheck], metric: str = "rsum") -> float | None:
    """The median minimum detectable effect of the row-vs-row comparisons on ``metric`` (None without any)."""
    mdes = [c.interval.mde for check in checks if check.claim.metric == metric for c in check.comparisons
            if c.interval is not None and isinstance(c.better, RowRef)]
    return float(np.median(mdes)) if mdes else None


FEATURES = ("r152", "i3d_x101", "r152+i3d_x101", "s3d_hm", "r152+s3d_hm")
ABLATION_COLUMNS = ("youcook2", "msrvtt_split1")


def _t3(column: str, losses: str, cascade: object) -> RowRef:
    return row("table3", column, losses=losses, cascade=cascade)


def _t4(column: str, tokens: str) -> RowRef:
    return row("table4", column, tokens=tokens)


def _t11(score: str) -> RowRef:
    return row("table11", "youcook2", score=score)


def _t12(setting: str) -> RowRef:
    return row("table12", "youcook2", setting=setting)


def _t13(layers: int) -> RowRef:
    return row("table13", "youcook2", video_layers=layers)


def _t8(protocol: str, column: str, video: str = "s3d_hm") -> RowRef:
    return row("table8", column, protocol=protocol, model="taco", video=video)


CLAIMS: tuple[Claim, ...] = (
    Claim("table2", "TACo beats the baseline (L3 with random negatives) for every feature type on both datasets",
          tuple((row("table2", c, features=f, method="taco"), row("table2", c, features=f, method="baseline"))
                for c in ABLATION_COLUMNS for f in FEATURES)),
    Claim("table2", "S3D-HM beats R-152 and I3D-X101 (baseline and TACo, both datasets)",
          tuple((row("table2", c, features="s3d_hm", method=m), row("table2", c, features=other, method=m))
                for c in ABLATION_COLUMNS for m in ("baseline", "taco") for other in ("r152", "i3d_x101"))),
    Claim("table3", "L1+L3 (random negatives) beats L1 alone and L3 alone",
          tuple((_t3(c, "L1+L3", False), _t3(c, alone, "n/a")) for c in ABLATION_COLUMNS for alone in ("L1", "L3"))),
    Claim("table3", "cascade sampling beats random negatives for L1+L3",
          tuple((_t3(c, "L1+L3", True), _t3(c, "L1+L3", False)) for c in ABLATION_COLUMNS)),
    Claim("table3", "adding the token-level loss L2 helps (L1+L2+L3 beats L1+L3, both with cascade)",
          tuple((_t3(c, "L1+L2+L3", True), _t3(c, "L1+L3", True)) for c in ABLATION_COLUMNS)),
    Claim("table4", "noun+verb is the best choice of tokens of interest",
          tuple((_t4(c, "noun+verb"), _t4(c, other)) for c in ABLATION_COLUMNS
                for other in ("none", "det+adp", "noun", "verb"))),
    Claim("table4", "nouns alone and verbs alone each beat no token-level loss",
          tuple((_t4(c, single), _t4(c, "none")) for c in ABLATION_COLUMNS for single in ("noun", "verb"))),
    Claim("table4", "det+adp tokens are worse than no token-level loss",
          tuple((_t4(c, "none"), _t4(c, "det+adp")) for c in ABLATION_COLUMNS)),
    Claim("table5", "2 video encoder layers beat 1 layer with the same features on YouCook2 (Table 5 vs Table 2)",
          ((row("table5", "youcook2", model="taco", video="r152+i3d_x101"),
            row("table2", "youcook2", features="r152+i3d_x101", method="taco")),
           (row("table5", "youcook2", model="taco", video="s3d_hm"),
            row("table2", "youcook2", features="s3d_hm", method="taco")))),
    Claim("table6", "2 video encoder layers beat 1 layer with the same features on MSR-VTT split1 (Table 6 vs Table 2)",
          ((row("table6", "msrvtt", split="split1", model="taco"),
            row("table2", "msrvtt_split1", features="r152+s3d_hm", method="taco")),)),
    Claim("table11", "the fused score is the best score",
          tuple((_t11("fused"), _t11(other)) for other in ("early_stage", "token_level", "later_stage"))),
    Claim("table11", "the early-stage score beats the token-level and later-stage scores",
          ((_t11("early_stage"), _t11("token_level")), (_t11("early_stage"), _t11("later_stage")))),
    Claim("table11", "training with all three losses improves the early stage (row 3 vs row 1) and the later stage "
          "(row 5 vs row 2)",
          ((_t11("early_stage"), _t11("early_stage_only_model")),
           (_t11("later_stage"), _t11("later_stage_only_model")))),
    Claim("table12", "adding the early-stage loss improves the later-stage score",
          ((_t12("early_plus_later_stage"), _t12("later_stage_only")),)),
    Claim("table12", "cascade sampling improves the later-stage score",
          ((_t12("cascade_sampling"), _t12("early_plus_later_stage")),)),
    Claim("table13", "more video encoder layers help (0 < 1 < 2 < 4)",
          ((_t13(1), _t13(0)), (_t13(2), _t13(1)), (_t13(4), _t13(2)))),
    Claim("table8", "pretraining transfers better to the in-domain set: zero-shot reaches a larger share of the "
          "finetuned result on YouCook2 than on MSR-VTT (S3D-HM)",
          ((RatioRef(_t8("zero_shot", "youcook2"), _t8("finetuned", "youcook2")),
            RatioRef(_t8("zero_shot", "msrvtt"), _t8("finetuned", "msrvtt"))),)),
    Claim("table8", "finetuning the pretrained model beats training from scratch (Table 8 vs Tables 5-7, same "
          "features; the pretrained model has 4 video layers, the scratch ones 2, as in the paper)",
          ((_t8("finetuned", "youcook2"), row("table5", "youcook2", model="taco", video="s3d_hm")),
           (_t8("finetuned", "msrvtt_split1", "r152+s3d_hm"), row("table6", "msrvtt", split="split1", model="taco")),
           (_t8("finetuned", "activitynet", "r152+s3d_hm"), row("table7", "activitynet", model="taco"))),
          metric="r5"),  # ActivityNet reports R@50, not R@10
)


def claims_for(table: str) -> list[Claim]:
    return [claim for claim in CLAIMS if claim.table == table]
