"""The paper's experiment grid as data: settings, runs, tables, params profiles and model cost.

- A *run* is one trained model, identified by (dataset key, features, video encoder layers, loss
  setting), e.g. ``youcook2__r152+s3d_hm__v1__taco``; it is trained once per seed and shared by
  every table that reads it.
- ``TABLES`` lists, for Tables 2-7 and 11-14 and Figure 3, the rows of the paper (keys as in the
  published ``tables.yaml``) and, per column, the run, the score and the evaluation to read.
- A *profile* (``params/*.yaml``, validated against ``workflow/schemas/params.schema.yaml``) holds
  the run settings shared by every run, the seeds, where the data lives and which slice of the grid
  to run; ``run_config`` merges it with the dataset, the run and the seed into a RunConfig.
- Model size and FLOPs (Tables 13, 14) are counted from built models, for our configs and for the
  paper's architecture (BERT-base text encoder, d = 768) with random weights.

Importable without snakemake, dvc or mlflow; torch and transformers are imported only to count.
"""
from __future__ import annotations

import ast
import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from taco import config as config_module
from taco.config import RunConfig

PACKAGE_DIR = Path(__file__).resolve().parent
REPOSITORY_DIR = PACKAGE_DIR.parent
SCHEMA_PATH = REPOSITORY_DIR / "workflow" / "schemas" / "params.schema.yaml"

# ---------------------------------------------------------------------------------------------
# Loss settings (Table 3) and token-of-interest settings (Table 4)
# ---------------------------------------------------------------------------------------------

_L1_L2_L3_CASCADE = {"use_l1": True, "use_l2": True, "use_l3": True, "negatives": "cascade"}

SETTINGS: dict[str, dict[str, Any]] = {
    # A setting without the token-level loss (L2) has no tokens of interest.
    "l1": {"use_l1": True, "use_l2": False, "use_l3": False, "tokens_of_interest": "none"},
    "l3_random": {"use_l1": False, "use_l2": False, "use_l3": True, "negatives": "random",
                  "tokens_of_interest": "none"},
    "l1_l3_random": {"use_l1": True, "use_l2": False, "use_l3": True, "negatives": "random",
                     "tokens_of_interest": "none"},
    "l1_l3_cascade": {"use_l1": True, "use_l2": False, "use_l3": True, "negatives": "cascade",
                      "tokens_of_interest": "none"},
    "taco": {**_L1_L2_L3_CASCADE, "tokens_of_interest": "noun+verb"},
    "tok_det+adp": {**_L1_L2_L3_CASCADE, "tokens_of_interest": "det+adp"},
    "tok_noun": {**_L1_L2_L3_CASCADE, "tokens_of_interest": "noun"},
    "tok_verb": {**_L1_L2_L3_CASCADE, "tokens_of_interest": "verb"},
}
"""Loss section of each canonical setting (``LossConfig`` keys)."""

SETTING_ALIASES: dict[str, str] = {
    "baseline": "l3_random",          # Table 2: identical architecture trained with L3 only, random negatives
    "tok_none": "l1_l3_cascade",      # Table 4: no token-level loss
    "tok_noun+verb": "taco",          # Table 4: the full model
}


class ExperimentError(ValueError):
    """A run id, setting, profile value or table reference is invalid; the message names it."""


def canonical_setting(name: str) -> str:
    """The canonical name of a setting or of one of its aliases (``baseline``, ``tok_none``, ...)."""
    name = SETTING_ALIASES.get(name, name)
    if name not in SETTINGS:
        known = sorted([*SETTINGS, *SETTING_ALIASES])
        raise ExperimentError(f"unknown setting '{name}' (known: {', '.join(known)})")
    return name


# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DatasetSpec:
    """How a dataset key maps onto a release folder and the run config's ``data`` section."""

    release: str                # loader name and folder under the data root
    split: str | None           # MSR-VTT training split
    max_video_tokens: int       # paper 4.3: 48, 256 for ActivityNet paragraphs
    max_text_tokens: int        # paper 4.3: 30, 256 for ActivityNet paragraphs

    def data_section(self) -> dict[str, Any]:
        section: dict[str, Any] = {"dataset": self.release, "max_video_tokens": self.max_video_tokens,
                                   "max_text_tokens": self.max_text_tokens}
        if self.split is not None:
            section["split"] = self.split
        return section


DATASETS: dict[str, DatasetSpec] = {
    "youcook2": DatasetSpec("youcook2", None, 48, 30),
    "msrvtt_split1": DatasetSpec("msrvtt", "split1", 48, 30),
    "msrvtt_split2": DatasetSpec("msrvtt", "split2", 48, 30),
    "activitynet": DatasetSpec("activitynet", None, 256, 256),
    "howto100m": DatasetSpec("howto100m", None, 48, 30),    # pretraining (paper 4.3): no test split
}
PRETRAIN_DATASET = "howto100m"
PRETRAIN_VIDEO_LAYERS = 4     # paper 4.3: the pretrained model has 4 video encoder layers
ZERO_SHOT_TARGETS = ("youcook2", "msrvtt_split2")   # Table 8: MSR-VTT zero-shot on split2

# ---------------------------------------------------------------------------------------------
# Runs, table cells and tables
# ---------------------------------------------------------------------------------------------

RUN_ID_SEPARATOR = "__"
SCORES = config_module.SCORE_NAMES
COIN_MODES = ("linear_probe", "finetune")
EVALUATIONS = ("train", "full_fusion", "figure3", *(f"zero_shot_{t}" for t in ZERO_SHOT_TARGETS), "crosstask",
               *(f"coin_{mode}" for mode in COIN_MODES))
"""Where a cell's numbers come from: ``train`` = the run's own test metrics (metrics.json);
``full_fusion`` = the run re-evaluated with the later stage over all N x N pairs (Table 12);
``figure3`` = top-5 retrievals of a few test captions per test-time token weight (Figure 3);
``zero_shot_<dataset key>`` = a pretrained run evaluated on that dataset's test split (Table 8, Figure 2);
``crosstask`` = step localization recall, ``coin_<mode>`` = segmentation frame accuracy (Table 9)."""
RETRIEVAL_EVALUATIONS = ("train", "full_fusion", *(f"zero_shot_{t}" for t in ZERO_SHOT_TARGETS))
"""Evaluations whose JSON holds retrieval metrics (``test`` in metrics.json, else ``metrics``)."""
FULL_FUSION_OVERRIDES = ("eval.fusion=full",)
FIGURE3_TOKEN_WEIGHTS = (0.0, 0.1, 0.5)
PAPER_VIDEO_LAYERS = (0, 1, 2, 4)     # Table 13


FINETUNED = "ft"


@dataclass(frozen=True, order=True)
class Run:
    """``finetuned``: trained from the pretrained run of the same features, layers, setting and seed
    (``pretrained``) instead of from scratch; its id ends in ``__ft``."""

    dataset: str
    features: str
    video_layers: int
    setting: str
    finetuned: bool = False

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ExperimentError(f"unknown dataset key '{self.dataset}' (known: {', '.join(DATASETS)})")
        if self.finetuned and self.dataset == PRETRAIN_DATASET:
            raise ExperimentError(f"a run on the pretraining dataset '{PRETRAIN_DATASET}' cannot be finetuned")
        if self.setting != canonical_setting(self.setting):
            raise ExperimentError(f"setting '{self.setting}' is an alias: use '{canonical_setting(self.setting)}'")
        if not isinstance(self.video_layers, int) or self.video_layers < 0:
            raise ExperimentError(f"video_layers must be a non-negative integer, got {self.video_layers!r}")

    @property
    def id(self) -> str:
        parts = [self.dataset, self.features, f"v{self.video_layers}", self.setting]
        return RUN_ID_SEPARATOR.join(parts + ([FINETUNED] if self.finetuned else []))

    @property
    def pretrained(self) -> Run | None:
        """The pretraining run a finetuned run starts from (None for a run trained from scratch)."""
        if not self.finetuned:
            return None
        return Run(PRETRAIN_DATASET, self.features, self.video_layers, self.setting)

    @classmethod
    def parse(cls, run_id: str) -> Run:
        """The run of an id such as ``youcook2__r152+s3d_hm__v1__taco`` (``...__ft`` when finetuned)."""
        parts = run_id.split(RUN_ID_SEPARATOR)
        finetuned = len(parts) == 5 and parts[4] == FINETUNED
        if (len(parts) != 4 and not finetuned) or not parts[2].startswith("v") or not parts[2][1:].isdigit():
            raise ExperimentError(f"run id '{run_id}' is not <dataset>__<features>__v<layers>__<setting>[__ft]")
        return cls(parts[0], parts[1], int(parts[2][1:]), parts[3], finetuned)


@dataclass(frozen=True)
class Cell:
    """One reproduced number group: a run, the score read from it and the evaluation that produced it."""

    run: Run
    score: str = "fused"
    evaluation: str = "train"

    def __post_init__(self):
        if self.score not in SCORES:
            raise ExperimentError(f"unknown score '{self.score}' (known: {', '.join(SCORES)})")
        if self.evaluation not in EVALUATIONS:
            raise ExperimentError(f"unknown evaluation '{self.evaluation}' (known: {', '.join(EVALUATIONS)})")


@dataclass
class Row:
    """A row of a paper table: ``key`` selects the published row in tables.yaml (its fields equal),
    ``cells`` maps a published column (dataset) to what we measure for it. Rows of Tables 13 and 14
    also compare model sizes: ``size_run`` is our model, ``paper_video_layers`` the paper's."""

    key: dict[str, Any]
    cells: dict[str, Cell] = field(default_factory=dict)
    size_run: Run | None = None
    paper_video_layers: int | None = None

    def runs(self) -> list[Run]:
        """Every run the row reads, and the pretraining runs its finetuned runs start from."""
        runs = [cell.run for cell in self.cells.values()] + ([self.size_run] if self.size_run is not None else [])
        return [r for run in runs for r in ([run.pretrained] if run.finetuned else []) + [run]]


ABLATION_FEATURES = "r152+s3d_hm"
FEATURE_TYPES_TABLE2 = ("r152", "i3d_x101", "r152+i3d_x101", "s3d_hm", "r152+s3d_hm")
ABLATION_COLUMNS = ("youcook2", "msrvtt_split1")


def _ablation_row(key: dict[str, Any], setting: str, features: str = ABLATION_FEATURES) -> Row:
    """A Table 2/3/4 row: one run per column, 1 video layer (tables.yaml ``ablation_architecture``)."""
    cells = {column: Cell(Run(column, features, 1, canonical_setting(setting))) for column in ABLATION_COLUMNS}
    return Row(key, cells)


def _youcook2_ablation(setting: str, video_layers: int = 1) -> Run:
    return Run("youcook2", ABLATION_FEATURES, video_layers, setting)


def _build_tables() -> dict[str, list[Row]]:
    tables: dict[str, list[Row]] = {}
    tables["table2"] = [_ablation_row({"features": features, "method": method}, method, features)
                        for features in FEATURE_TYPES_TABLE2 for method in ("baseline", "taco")]
    tables["table3"] = [
        _ablation_row({"losses": "L1", "cascade": "n/a"}, "l1"),
        _ablation_row({"losses": "L3", "cascade": "n/a"}, "l3_random"),
        _ablation_row({"losses": "L1+L3", "cascade": False}, "l1_l3_random"),
        _ablation_row({"losses": "L1+L3", "cascade": True}, "l1_l3_cascade"),
        _ablation_row({"losses": "L1+L2+L3", "cascade": True}, "taco"),
    ]
    tables["table4"] = [_ablation_row({"tokens": tokens}, f"tok_{tokens}")
                        for tokens in ("none", "det+adp", "noun", "verb", "noun+verb")]
    tables["table5"] = [Row({"model": "taco", "video": features},
                            {"youcook2": Cell(Run("youcook2", features, 2, "taco"))})
                        for features in ("r152+i3d_x101", "s3d_hm")]
    tables["table6"] = [
        Row({"split": "split2", "model": "taco"}, {"msrvtt": Cell(Run("msrvtt_split2", "r152+i3d_x101", 2, "taco"))}),
        Row({"split": "split1", "model": "taco"}, {"msrvtt": Cell(Run("msrvtt_split1", "r152+s3d_hm", 2, "taco"))}),
    ]
    tables["table7"] = [Row({"model": "taco"}, {"activitynet": Cell(Run("activitynet", "r152+s3d_hm", 2, "taco"))})]
    tables["table11"] = [
        Row({"score": "early_stage_only_model"}, {"youcook2": Cell(_youcook2_ablation("l1"), "early")}),
        Row({"score": "later_stage_only_model"}, {"youcook2": Cell(_youcook2_ablation("l3_random"), "later")}),
        *[Row({"score": key}, {"youcook2": Cell(_youcook2_ablation("taco"), score)})
          for key, score in (("early_stage", "early"), ("token_level", "token"), ("later_stage", "later"),
                             ("fused", "fused"))],
    ]
    tables["table12"] = [Row({"setting": key}, {"youcook2": Cell(_youcook2_ablation(setting), "later", "full_fusion")})
                         for key, setting in (("later_stage_only", "l3_random"),
                                              ("early_plus_later_stage", "l1_l3_random"),
                                              ("cascade_sampling", "l1_l3_cascade"))]
    tables["table13"] = [Row({"video_layers": layers}, {"youcook2": Cell(_youcook2_ablation("taco", layers))},
                             size_run=_youcook2_ablation("taco", layers), paper_video_layers=layers)
                         for layers in PAPER_VIDEO_LAYERS]
    tables.update(_transfer_tables())
    largest = max(PAPER_VIDEO_LAYERS)
    tables["table14"] = [Row({"method": "taco_largest"}, size_run=_youcook2_ablation("taco", largest),
                             paper_video_layers=largest)]
    tables["figure3"] = [Row({"dataset": column}, {column: Cell(_youcook2_ablation("taco") if column == "youcook2"
                                                                 else Run(column, ABLATION_FEATURES, 1, "taco"),
                                                                 evaluation="figure3")})
                         for column in ABLATION_COLUMNS]
    return tables


def pretraining_run(setting: str = "taco", features: str = "s3d_hm") -> Run:
    return Run(PRETRAIN_DATASET, features, PRETRAIN_VIDEO_LAYERS, setting)


FINETUNE_COLUMNS = {"s3d_hm": {"youcook2": "youcook2", "msrvtt": "msrvtt_split2", "activitynet": "activitynet"},
                    "r152+s3d_hm": {"youcook2": "youcook2", "msrvtt_split1": "msrvtt_split1",
                                    "activitynet": "activitynet"}}
"""Table 8's finetuned rows: video features -> published column -> our dataset key."""
FIGURE2_SETTINGS = ("l1", "l3_random", "l1_l3_random", "l1_l3_cascade", "taco")   # Table 3's rows, score-1..5


def _zero_shot_cells(run: Run) -> dict[str, Cell]:
    columns = {"youcook2": "youcook2", "msrvtt_split2": "msrvtt"}
    return {columns[target]: Cell(run, evaluation=f"zero_shot_{target}") for target in ZERO_SHOT_TARGETS}


def _transfer_tables() -> dict[str, list[Row]]:
    """Table 8 (zero-shot and finetuned after pretraining), Figure 2 (zero-shot per Table 3 setting of
    pretraining) and Table 9 (CrossTask, COIN with the pretrained model)."""
    table8 = [Row({"protocol": "zero_shot", "model": "taco", "video": "s3d_hm"}, _zero_shot_cells(pretraining_run()))]
    table8 += [Row({"protocol": "finetuned", "model": "taco", "video": features},
                   {column: Cell(Run(dataset, features, PRETRAIN_VIDEO_LAYERS, "taco", finetuned=True))
                    for column, dataset in columns.items()})
               for features, columns in FINETUNE_COLUMNS.items()]
    figure2 = [Row({"setting": setting}, _zero_shot_cells(pretraining_run(setting))) for setting in FIGURE2_SETTINGS]
    table9 = [Row({"method": "taco"}, {"crosstask": Cell(pretraining_run(), evaluation="crosstask"),
                                       **{f"coin_{mode}": Cell(pretraining_run(), evaluation=f"coin_{mode}")
                                          for mode in COIN_MODES}})]
    return {"table8": table8, "figure2": figure2, "table9": table9}


TABLES: dict[str, list[Row]] = _build_tables()
"""Table id -> rows, in the paper's order."""

REPORT_NAMES = ("table2", "table3", "table4", "table5", "table6", "table7", "table8", "table9", "table10", "table11",
                "table12", "table13", "table14", "figure2", "figure3", "figure4", "training_curves")
"""One markdown report per name under ``reports/`` (Table 10 and Figure 4 read the captions only)."""
REPORT_FIGURES = ("figure2", "figure4", "training_curves")
"""The PNG figures under ``reports/`` (always written; a placeholder says what is missing)."""


def tables_of(run: Run) -> list[str]:
    """Ids of the tables that read ``run``."""
    return [table for table, rows in TABLES.items() if any(run in row.runs() for row in rows)]


METHOD_TABLES = ("table3", "table4", "table11", "table12", "table13")
"""Tables whose claims are about the method (losses, tokens, scores, sampling, depth): their runs are
trained over the profile's ``method_seeds`` (more seeds resolve smaller effects)."""


def run_seeds(profile: dict, run_id: str) -> list[int]:
    """The seeds a run is trained (and evaluated) with: ``method_seeds`` for a run that a method-claim
    table reads, else ``seeds``."""
    if profile.get("method_seeds") and set(tables_of(Run.parse(run_id))) & set(METHOD_TABLES):
        return list(profile["method_seeds"])
    return list(profile["seeds"])


ZERO_SHOT_SUFFIX = "zero_shot"


@dataclass(frozen=True, order=True)
class Probe:
    """The model-free ridge probe (``taco.data.synthetic.probe``) on a dataset key's test split with
    ``features``, fitted on that dataset's train split, or on the pretraining corpus when ``zero_shot``."""

    dataset: str
    features: str
    zero_shot: bool = False

    @property
    def id(self) -> str:
        return RUN_ID_SEPARATOR.join([self.dataset, self.features] + ([ZERO_SHOT_SUFFIX] if self.zero_shot else []))

    @classmethod
    def parse(cls, probe_id: str) -> Probe:
        parts = probe_id.split(RUN_ID_SEPARATOR)
        if len(parts) not in (2, 3) or parts[0] not in DATASETS or (len(parts) == 3 and parts[2] != ZERO_SHOT_SUFFIX):
            raise ExperimentError(f"probe id '{probe_id}' is not <dataset>__<features>[__{ZERO_SHOT_SUFFIX}]")
        return cls(parts[0], parts[1], len(parts) == 3)


def cell_probe(cell: Cell) -> Probe:
    """The probe standing beside a retrieval cell: same test split and features (zero-shot for zero-shot cells)."""
    if cell.evaluation.startswith("zero_shot_"):
        return Probe(cell.evaluation.removeprefix("zero_shot_"), cell.run.features, zero_shot=True)
    return Probe(cell.run.dataset, cell.run.features)


def probe_jobs(profile: dict) -> list[Probe]:
    """The probes of every retrieval cell whose run the profile selects, deduplicated, in table order."""
    allowed = _run_filter(profile)
    return list(dict.fromkeys(cell_probe(cell) for rows in TABLES.values() for row in rows
                              for cell in row.cells.values()
                              if cell.evaluation in RETRIEVAL_EVALUATIONS and _selected(cell.run, allowed)))


def probe_configs(profile: dict, probe: Probe) -> tuple[RunConfig, RunConfig]:
    """(test config, fitting config) of a probe: the dataset's settings with the probe's features; the
    fitting config is the pretraining corpus's for a zero-shot probe, else the same."""
    def settings(dataset: str) -> RunConfig:   # the data section only: the probe reads nothing else
        return config_module.from_dict({"data": {**_base_values(profile, dataset)["data"], "features": probe.features}})

    test = settings(probe.dataset)
    return test, settings(PRETRAIN_DATASET) if probe.zero_shot else test


def probe_hash(profile: dict, probe: Probe) -> str:
    """Identifies a probe's result: the hashes of its test and fitting configs (one when they are the same)."""
    return "+".join(dict.fromkeys(cfg.hash() for cfg in probe_configs(profile, probe)))


def probe_path(probe_id: str) -> str:
    """The JSON of a probe (``Probe.id``, or a Snakemake wildcard pattern)."""
    return f"{RESULTS_DIR}/probe/{probe_id}.json"


# ---------------------------------------------------------------------------------------------
# Profiles (params/*.yaml)
# ---------------------------------------------------------------------------------------------

GRID_KEYS = ("datasets", "features", "video_layers", "settings")


def deep_merge(base: dict, *updates: dict) -> dict:
    """A copy of ``base`` updated recursively by each of ``updates`` in turn (later ones win)."""
    merged = copy.deepcopy(base)
    for update in updates:
        for key, value in (update or {}).items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = deep_merge(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
    return merged


def _key_path(parts: Iterable[Any]) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "<top level>"


def _schema_errors(values: dict) -> list[str]:
    """One line per schema violation, naming the key path: unknown keys with the keys allowed there,
    a wrong type with the type expected (never the whole profile, which jsonschema's messages quote)."""
    import jsonschema

    if not SCHEMA_PATH.is_file():
        raise ExperimentError(f"params schema '{SCHEMA_PATH}' is missing: run from a checkout of the repository")
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(values), key=lambda e: list(map(str, e.absolute_path)))
    return [_schema_error_line(e) for e in errors]


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _schema_error_line(error) -> str:
    path = _key_path(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties") or {})
        unknown = sorted(str(k) for k in error.instance if k not in allowed)
        plural = "s" if len(unknown) > 1 else ""
        keys = ", ".join(repr(k) for k in unknown)
        where = f"top-level key{plural} {keys}" if not error.absolute_path else f"key{plural} {keys} under '{path}'"
        return f"unknown {where} (allowed: {', '.join(allowed)})"
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return (f"'{path}' must be of type {expected}, not {type(error.instance).__name__}"
                f" {_short_repr(error.instance)}")
    message = error.message
    if len(message) > 200:  # messages quoting a whole section
        message = f"{_short_repr(error.instance)} fails the schema's '{error.validator}' rule"
    return f"'{path}': {message}"


def _run_filter(profile: dict) -> dict[str, set]:
    grid = profile.get("grid") or {}
    allowed: dict[str, set] = {}
    for key in GRID_KEYS:
        if key in grid:
            values = grid[key]
            allowed[key] = {canonical_setting(v) for v in values} if key == "settings" else set(values)
    return allowed


def _selected(run: Run, allowed: dict[str, set]) -> bool:
    fields = {"datasets": run.dataset, "features": run.features, "video_layers": run.video_layers,
              "settings": run.setting}
    return all(fields[key] in values for key, values in allowed.items())


def selected_runs(profile: dict) -> list[Run]:
    """The runs of every table that the profile's ``grid`` keeps, deduplicated, in table order."""
    allowed = _run_filter(profile)
    runs: dict[Run, None] = {}
    for rows in TABLES.values():
        for row in rows:
            for run in row.runs():
                if _selected(run, allowed):
                    runs.setdefault(run)
    return list(runs)


def runs_by_seeds(profile: dict) -> dict[tuple[int, ...], list[str]]:
    """The profile's run ids grouped by the seeds they are trained with (``run_seeds``)."""
    groups: dict[tuple[int, ...], list[str]] = {}
    for run in selected_runs(profile):
        groups.setdefault(tuple(run_seeds(profile, run.id)), []).append(run.id)
    return groups


def unique_runs(profile: dict) -> list[str]:
    """Ids of the runs the profile trains (per seed), shared runs counted once."""
    return [run.id for run in selected_runs(profile)]


def release_root(profile: dict, release: str, needed_by: str = "") -> str:
    """The folder of a release (``youcook2``, ..., ``crosstask``, ``coin``): ``<data.root>/<release>``
    for synthetic data, else ``data.paths.<release>``."""
    data = profile["data"]
    if data["source"] == "synthetic":
        return f"{data['root']}/{release}"
    paths = data.get("paths") or {}
    if release not in paths:
        raise ExperimentError(f"'data.paths.{release}' is required when data.source is 'real'{needed_by}")
    return str(paths[release])


def dataset_root(profile: dict, dataset: str) -> str:
    """The release folder of a dataset key (see ``release_root``)."""
    return release_root(profile, DATASETS[dataset].release, f" (dataset key '{dataset}')")


def extraction_jobs(profile: dict) -> list[tuple[str, str]]:
    """(release, feature type) pairs whose features the workflow extracts from the videos first: with
    real data and ``data.extract``, every type a selected run reads, in every release the profile uses."""
    from taco.features.store import parse_feature_spec

    if profile["data"]["source"] != "real" or not profile["data"].get("extract"):
        return []
    types = sorted({t for run in selected_runs(profile) for t in parse_feature_spec(run.features)})
    return [(release, feature_type) for release in sorted(profile["data"].get("paths") or {})
            for feature_type in types]


def extraction_marker_path(release: str, feature_type: str) -> str:
    return f"{RESULTS_DIR}/features/{release}{RUN_ID_SEPARATOR}{feature_type}.done"


DOWNSTREAM_RELEASES = {"crosstask": "crosstask", **{f"coin_{mode}": "coin" for mode in COIN_MODES}}
"""Downstream evaluation -> the release it reads (Table 9)."""


def _base_values(profile: dict, dataset: str) -> dict:
    """Base run settings, then the dataset's own settings, then the profile's per-dataset overrides."""
    spec = DATASETS[dataset]
    data = {**spec.data_section(), "root": dataset_root(profile, dataset)}
    overrides = (profile.get("datasets") or {}).get(dataset, {})
    return deep_merge(profile.get("base") or {}, {"data": data}, overrides)


def run_config(profile: dict, run_id: str, seed: int) -> RunConfig:
    """The RunConfig of one run and seed: profile ``base`` < dataset < ``datasets.<key>`` < ``finetune``
    (finetuned runs) < run < seed, tags. A finetuned run starts from its pretraining run's best.pt of
    the same seed (``model.init_from``)."""
    run = Run.parse(run_id)
    run_values = {"data": {"features": run.features}, "model": {"video_layers": run.video_layers},
                  "loss": SETTINGS[run.setting], "optim": {"seed": seed}}
    if run.finetuned:
        pretrained = run_config(profile, run.pretrained.id, seed)
        init = f"{run_work_dir(run.pretrained.id, seed, pretrained.hash())}/best.pt"
        run_values = deep_merge(profile.get("finetune") or {}, run_values, {"model": {"init_from": init}})
    tags = {"tables": ",".join(tables_of(run)), "setting": run.setting, "dataset": run.dataset,
            "features": run.features, "video_layers": run.video_layers, "seed": seed, "run_id": run.id,
            "run_name": f"{run.id}/seed{seed}", "profile": profile.get("profile", ""),
            "profile_description": profile.get("description", ""),
            "mlflow_log_checkpoints": bool((profile.get("tracking") or {}).get("log_checkpoints", False))}
    values = deep_merge(_base_values(profile, run.dataset), run_values, {"tags": tags})
    try:
        return config_module.from_dict(values)
    except config_module.ConfigError as err:
        raise ExperimentError(f"run {run.id} seed {seed}: {err}") from err


def text_runs(profile: dict) -> dict[str, str]:
    """Text preparation jobs: ``<dataset>__<tokens>`` -> the first run that needs that token table."""
    jobs: dict[str, str] = {}
    for run in selected_runs(profile):
        jobs.setdefault(text_job(run.id), run.id)
    return jobs


def text_job(run_id: str) -> str:
    """The text preparation job a run depends on: its dataset key and tokens of interest."""
    run = Run.parse(run_id)
    return f"{run.dataset}{RUN_ID_SEPARATOR}{SETTINGS[run.setting]['tokens_of_interest']}"


def text_job_dataset(job: str) -> str:
    """The dataset key of a text preparation job (``<dataset>__<tokens>``)."""
    return job.split(RUN_ID_SEPARATOR)[0]


def _text_settings(cfg: RunConfig, tags: dict) -> RunConfig:
    """Only what the text jobs read (data, text model, tokens of interest, cache) of ``cfg``, so that a
    training-only change of the profile leaves their configs, and so their jobs, as they are."""
    return config_module.from_dict({
        "data": cfg.to_dict()["data"],
        "model": {"text_model": cfg.model.text_model, "text_mode": cfg.model.text_mode},
        "loss": {"tokens_of_interest": cfg.loss.tokens_of_interest},
        "cache_dir": cfg.cache_dir,
        "tags": tags,
    })


def text_config(profile: dict, job: str) -> RunConfig:
    """The config that prepares the text of ``job`` (see ``text_runs``)."""
    jobs = text_runs(profile)
    if job not in jobs:
        raise ExperimentError(f"text job '{job}' is needed by no selected run (needed: {', '.join(jobs)})")
    return _text_settings(run_config(profile, jobs[job], seed=0), {"text_job": job})


TEXT_STATS_DATASETS = {"youcook2": "youcook2", "msrvtt": "msrvtt_split1", "activitynet": "activitynet"}
"""Table 10 and Figure 4: release -> the dataset key whose training captions are counted."""


def stats_config(profile: dict, release: str) -> RunConfig:
    """The config whose training captions give a release's Table 10 counts and Figure 4 idf curves."""
    if release not in TEXT_STATS_DATASETS:
        raise ExperimentError(f"unknown release '{release}' for caption statistics "
                              f"(known: {', '.join(TEXT_STATS_DATASETS)})")
    dataset = TEXT_STATS_DATASETS[release]
    try:
        cfg = config_module.from_dict(_base_values(profile, dataset))
    except config_module.ConfigError as err:
        raise ExperimentError(f"dataset {dataset}: {err}") from err
    return _text_settings(cfg, {"text_stats": release})


def text_stats_releases(profile: dict) -> list[str]:
    """Releases whose caption statistics can be computed: all for synthetic data, else those with a path."""
    if profile["data"]["source"] == "synthetic":
        return list(TEXT_STATS_DATASETS)
    return [release for release in TEXT_STATS_DATASETS if release in (profile["data"].get("paths") or {})]


def _check_semantics(profile: dict) -> list[str]:
    from taco.features.store import FeatureError, parse_feature_spec

    problems = []
    for index, spec in enumerate((profile.get("grid") or {}).get("features", [])):
        try:
            parse_feature_spec(spec)
        except FeatureError as err:
            problems.append(f"'grid.features[{index}]': {err}")
    for index, name in enumerate((profile.get("grid") or {}).get("settings", [])):
        try:
            canonical_setting(name)
        except ExperimentError as err:
            problems.append(f"'grid.settings[{index}]': {err}")
    sections = {"base": profile.get("base"), "finetune": profile.get("finetune"),
                **{f"datasets.{key}": value for key, value in (profile.get("datasets") or {}).items()}}
    for name, section in sections.items():
        spec = ((section or {}).get("data") or {}).get("features")
        if spec is not None:
            try:
                parse_feature_spec(spec)
            except FeatureError as err:
                problems.append(f"'{name}.data.features': {err}")
    if problems:
        return problems
    try:
        config_module.from_dict(profile.get("base") or {})
    except config_module.ConfigError as err:
        return [f"'base': {err}"]
    for key, overrides in (profile.get("datasets") or {}).items():
        try:
            config_module.from_dict(deep_merge(profile.get("base") or {}, overrides))
        except config_module.ConfigError as err:
            problems.append(f"'datasets.{key}': {err}")
    if not set(profile["seeds"]) <= set(profile.get("method_seeds") or profile["seeds"]):
        problems.append(f"'method_seeds': {profile['method_seeds']} must include every seed of 'seeds' "
                        f"{profile['seeds']} (runs shared between tables are paired by seed)")
    if profile["figure3"]["seed"] not in profile["seeds"]:
        problems.append(f"'figure3.seed': {profile['figure3']['seed']} is not one of the profile's seeds "
                        f"{profile['seeds']}")
    runs = selected_runs(profile)
    if not runs:
        problems.append("'grid': keeps no run of any table")
    if profile.get("finetune"):
        try:
            config_module.from_dict(deep_merge(profile.get("base") or {}, profile["finetune"]))
        except config_module.ConfigError as err:
            problems.append(f"'finetune': {err}")
    if profile["data"]["source"] == "real":
        paths = profile["data"].get("paths") or {}
        releases = {DATASETS[run.dataset].release for run in runs}
        evaluated = {e for _, _, e in evaluations(profile)}
        releases |= {DOWNSTREAM_RELEASES[e] for e in evaluated if e in DOWNSTREAM_RELEASES}
        releases |= {DATASETS[e.removeprefix("zero_shot_")].release for e in evaluated
                     if e.startswith("zero_shot_")}
        for release in sorted(releases - set(paths)):
            problems.append(f"'data.paths.{release}': required by the selected runs when data.source is 'real'")
        for release, path in sorted(paths.items()):
            if not Path(path).is_dir():
                problems.append(f"'data.paths.{release}': dataset folder '{path}' does not exist")
            elif not any(Path(path).iterdir()):
                problems.append(f"'data.paths.{release}': dataset folder '{path}' is empty")
        extract = profile["data"].get("extract")
        if extract:
            for release, feature_type in extraction_jobs(profile):
                if feature_type not in extract["weights"]:
                    problems.append(f"'data.extract.weights.{feature_type}': required to extract the "
                                    f"'{feature_type}' features the selected runs read")
                if not (Path(paths[release]) / "videos").is_dir():
                    problems.append(f"'data.paths.{release}': '{paths[release]}/videos' does not exist "
                                    "(data.extract reads the videos there)")
            for feature_type, path in sorted(extract["weights"].items()):
                if not Path(path).is_file():
                    problems.append(f"'data.extract.weights.{feature_type}': weight file '{path}' does not exist")
    if problems:
        return problems
    for run in runs:
        for seed in run_seeds(profile, run.id):
            try:
                run_config(profile, run.id, seed)
            except ExperimentError as err:
                problems.append(str(err))
    return problems


def check_profile(profile: dict, source: str) -> dict:
    """Validate a profile against the params schema, then semantically (feature types, settings,
    run settings, real-data folders). Raises ExperimentError listing every problem by key."""
    problems = _schema_errors(profile)
    if not problems:
        problems = _check_semantics(profile)
    if len(problems) == 1:
        raise ExperimentError(f"invalid params in {source}: {problems[0]}")
    if problems:
        raise ExperimentError(f"invalid params in {source}:\n  " + "\n  ".join(problems))
    return profile


def load_profile(path: str | Path) -> dict:
    """Read and validate a params profile (``params/*.yaml``)."""
    path = Path(path)
    if not path.is_file():
        raise ExperimentError(f"params file '{path}' does not exist")
    with open(path) as fh:
        values = yaml.safe_load(fh)
    if not isinstance(values, dict):
        raise ExperimentError(f"params file '{path}' must hold a mapping at the top level")
    return check_profile(values, str(path))


# ---------------------------------------------------------------------------------------------
# Work items and their files
# ---------------------------------------------------------------------------------------------

RESULTS_DIR = "results"


TEXT_CONFIG_PREFIX = "text" + RUN_ID_SEPARATOR
STATS_CONFIG_PREFIX = "stats" + RUN_ID_SEPARATOR
SEED_SUFFIX = RUN_ID_SEPARATOR + "seed"


def config_name(run_id: str, seed: int) -> str:
    return f"{run_id}{SEED_SUFFIX}{seed}"


def text_config_name(job: str) -> str:
    return TEXT_CONFIG_PREFIX + job


def stats_config_name(release: str) -> str:
    return STATS_CONFIG_PREFIX + release


def config_names(profile: dict) -> list[str]:
    """Every resolved config the profile's jobs read: one per run and seed, per text job, per statistics job."""
    return ([config_name(run, seed) for run in unique_runs(profile) for seed in run_seeds(profile, run)]
            + [text_config_name(job) for job in text_runs(profile)]
            + [stats_config_name(release) for release in text_stats_releases(profile)])


def resolved_config(profile: dict, name: str) -> RunConfig:
    """The config called ``name``: ``<run_id>__seed<k>``, ``text__<text job>`` or ``stats__<release>``."""
    if name.startswith(TEXT_CONFIG_PREFIX):
        return text_config(profile, name[len(TEXT_CONFIG_PREFIX):])
    if name.startswith(STATS_CONFIG_PREFIX):
        return stats_config(profile, name[len(STATS_CONFIG_PREFIX):])
    run_id, _, seed = name.rpartition(SEED_SUFFIX)
    if not run_id or not seed.isdigit():
        raise ExperimentError(f"config name '{name}' is not <run_id>__seed<k>, text__<dataset>__<tokens> "
                              f"or stats__<release>")
    return run_config(profile, run_id, int(seed))


def config_path(name: str) -> str:
    """Where the resolved config ``name`` is written (see ``resolved_config``)."""
    return f"{RESULTS_DIR}/configs/{name}.yaml"


def run_metrics_path(run_id: str, seed: int) -> str:
    """The run's final metrics (a copy of its work folder's metrics.json)."""
    return f"{RESULTS_DIR}/runs/{run_id}/seed{seed}/metrics.json"


def run_work_dir(run_id: str, seed: int, config_hash: str) -> str:
    """Checkpoints, best.pt, train_log.jsonl and metrics.json of one configuration of a run: a changed
    configuration trains in a fresh folder, an unchanged one resumes from its checkpoint."""
    return f"{RESULTS_DIR}/runs/{run_id}/seed{seed}/{config_hash}"


def evaluation_overrides(profile: dict, evaluation: str) -> list[str]:
    """``--set`` overrides under which a retrieval evaluation scores a run: all N x N pairs for
    ``full_fusion``; for ``zero_shot_<key>`` the target dataset's data settings (release, folder,
    split, token limits), the run's features kept."""
    if evaluation == "full_fusion":
        return list(FULL_FUSION_OVERRIDES)
    if evaluation.startswith("zero_shot_"):
        target = evaluation.removeprefix("zero_shot_")
        data = {**DATASETS[target].data_section(), "root": dataset_root(profile, target)}
        return [f"data.{key}={value}" for key, value in data.items()]
    if evaluation == "train":
        return []
    raise ExperimentError(f"evaluation '{evaluation}' is not a retrieval evaluation")


def evaluated_config(profile: dict, run_id: str, seed: int, evaluation: str) -> RunConfig:
    """The configuration a retrieval evaluation of a run ran under (its overrides applied)."""
    cfg = run_config(profile, run_id, seed)
    overrides = evaluation_overrides(profile, evaluation)
    return config_module.from_dict(config_module.apply_overrides(cfg.to_dict(), overrides)) if overrides else cfg


def evaluation_path(run_id: str, seed: int, evaluation: str) -> str:
    """The JSON a cell's numbers come from."""
    if evaluation == "train":
        return run_metrics_path(run_id, seed)
    if evaluation not in EVALUATIONS and "{" not in evaluation:  # "{...}": a Snakemake wildcard pattern
        raise ExperimentError(f"unknown evaluation '{evaluation}' (known: {', '.join(EVALUATIONS)})")
    return f"{RESULTS_DIR}/evaluations/{run_id}/seed{seed}/{evaluation}.json"


def text_marker_path(job: str) -> str:
    return f"{RESULTS_DIR}/text/{job}.json"


def text_stats_path(release: str) -> str:
    """Table 10 counts and Figure 4 idf curves of a release's training captions."""
    return f"{RESULTS_DIR}/text_stats/{release}.json"


MODEL_SIZES_PATH = f"{RESULTS_DIR}/model_sizes.json"


def evaluations(profile: dict) -> list[tuple[str, int, str]]:
    """(run id, seed, evaluation) of every cell that needs more than the training metrics.
    Figure 3 is qualitative: only the model of seed ``figure3.seed`` is shown."""
    allowed = _run_filter(profile)
    items: dict[tuple[str, int, str], None] = {}
    for rows in TABLES.values():
        for row in rows:
            for cell in row.cells.values():
                if cell.evaluation == "train" or not _selected(cell.run, allowed):
                    continue
                seeds = ([profile["figure3"]["seed"]] if cell.evaluation == "figure3"
                         else run_seeds(profile, cell.run.id))
                for seed in seeds:
                    items.setdefault((cell.run.id, seed, cell.evaluation))
    return list(items)


def size_runs(profile: dict) -> list[str]:
    """Runs whose model size and FLOPs are reported (Tables 13 and 14)."""
    allowed = _run_filter(profile)
    runs = [row.size_run for table in ("table13", "table14") for row in TABLES[table]]
    return list(dict.fromkeys(run.id for run in runs if _selected(run, allowed)))


# ---------------------------------------------------------------------------------------------
# Source files a command executes (declared as workflow inputs so that code changes rerun jobs)
# ---------------------------------------------------------------------------------------------

def _module_file(module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != PACKAGE_DIR.name:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of(node: ast.Import | ast.ImportFrom, package: str) -> Iterator[str]:
    """Names an import statement may load as modules (``from a import b`` loads a, and a.b if a module)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:
        anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(anchor + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    yield base
    yield from (f"{base}.{alias.name}" for alias in node.names)


def _imported_modules(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, at any depth of its code (lazy imports included)."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield from _imports_of(node, package)


def code_dependencies(*modules: str) -> list[str]:
    """Package source files (relative to the repository) that running ``modules`` executes: the
    modules, everything they import transitively and the ``__init__.py`` of every package on the way."""
    pending, seen = [], set()
    for module in modules:
        path = _module_file(module)
        if path is None:
            raise ExperimentError(f"module '{module}' is not a module of the {PACKAGE_DIR.name} package")
        pending.append(path)
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        parents = _module_name(path).split(".")
        for depth in range(1, len(parents)):
            init = _module_file(".".join(parents[:depth]))
            if init is not None and init not in seen:
                pending.append(init)
        pending.extend(p for p in map(_module_file, _imported_modules(path)) if p is not None and p not in seen)
    return sorted(str(p.relative_to(PACKAGE_DIR.parent)) for p in seen)


def cli_dependencies(*modules: str) -> list[str]:
    """Source files of ``python -m taco <command>``: the CLI itself plus the command's ``modules``.
    The CLI imports each command's modules lazily, so only the module-level imports of cli.py count."""
    entry_points = [_module_file("taco.__main__"), _module_file("taco.cli")]
    top_level = [module for node in ast.parse(entry_points[1].read_text()).body
                 if isinstance(node, (ast.Import, ast.ImportFrom))
                 for module in _imports_of(node, _module_name(entry_points[1]).rpartition(".")[0])]
    package_modules = [m for m in top_level if _module_file(m) is not None]
    files = set(code_dependencies(*package_modules, *modules))
    files.update(str(p.relative_to(PACKAGE_DIR.parent)) for p in entry_points)
    return sorted(files)


# ---------------------------------------------------------------------------------------------
# Model size and FLOPs (Tables 13 and 14)
# ---------------------------------------------------------------------------------------------

PAPER_VIDEO_TOKENS = 48
PAPER_TEXT_TOKENS = 30
PAPER_VIDEO_DIM = 2048 + 1024        # R-152 + S3D-HM (docs/data_formats.md), Table 13's features
PAPER_HIDDEN = 768                   # BERT-base
PAPER_HEADS = 12
PAPER_FUSION_LAYERS = 2


def count_parameters(model, trainable_only: bool = False) -> int:
    """Number of scalar parameters of a torch module (shared tensors counted once)."""
    unique = {id(p): p for p in model.parameters() if p.requires_grad or not trainable_only}
    return sum(p.numel() for p in unique.values())


def _random_bert(bert_config):
    from transformers import BertModel

    return BertModel(bert_config).eval()


def _text_backbone_config(text_model: str):
    from transformers import AutoConfig

    from taco.model.text_encoder import resolve_text_model

    return AutoConfig.from_pretrained(resolve_text_model(text_model))


def _paper_text_encoder(bert):
    """The paper's text encoder (3.1: BERT-base, finetuned): wordpiece ids -> d = 768 tokens, padding
    zeroed; the forward of TextEncoder's ``finetune`` mode when the text width equals d."""
    import torch
    from torch import nn

    class PaperTextEncoder(nn.Module):
        mode = "finetune"

        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=tokens, attention_mask=mask.long()).last_hidden_state
            return hidden * mask.unsqueeze(-1).to(hidden.dtype)

    return PaperTextEncoder()


def paper_model(video_layers: int):
    """The paper's architecture with random weights: BERT-base text encoder (12 layers, d = 768),
    ``video_layers`` video encoder layers over R-152+S3D-HM features, 2 fusion layers."""
    from transformers import BertConfig

    from taco.model.taco_model import TacoModel

    model_cfg = config_module.ModelConfig(hidden_size=PAPER_HIDDEN, num_heads=PAPER_HEADS, video_layers=video_layers,
                                          fusion_layers=PAPER_FUSION_LAYERS, text_mode="frozen", text_top_layers=0)
    model = TacoModel(model_cfg, PAPER_VIDEO_DIM, PAPER_VIDEO_TOKENS, PAPER_TEXT_TOKENS)
    # TextEncoder's finetune mode loads pretrained weights; the size count needs none, so the
    # frozen-mode placeholder is replaced by a randomly initialised BERT-base.
    model.text_encoder = _paper_text_encoder(_random_bert(BertConfig()))
    return model.eval()


def count_flops(model, text_backbone=None, video_tokens: int = PAPER_VIDEO_TOKENS,
                text_tokens: int = PAPER_TEXT_TOKENS) -> int:
    """FLOPs (2 per multiply-add, torch's FlopCounterMode) of one forward of a text-video pair:
    video encoder, text encoder (plus ``text_backbone``, the frozen encoder whose cached features a
    frozen-mode model reads), and one fusion pass. Attention runs on the math kernel with gradients
    enabled, so every matmul is dispatched and counted (fused kernels are not). The fusion layers are
    counted over every token, as the architecture defines them (the paper's Table 13), not the cheaper
    first-token path the score takes."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    video = torch.zeros(1, video_tokens, model.video_encoder.feature_dim)
    video_mask = torch.ones(1, video_tokens, dtype=torch.bool)
    text_mask = torch.ones(1, text_tokens, dtype=torch.bool)
    ids = torch.ones(1, text_tokens, dtype=torch.long)
    pair = torch.zeros(1, dtype=torch.long)
    model.eval()
    first_token_only, model.fusion.first_token_only = model.fusion.first_token_only, False
    with torch.enable_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        if text_backbone is not None:
            text_backbone(input_ids=ids, attention_mask=text_mask.long())
        if model.text_encoder.mode == "finetune":
            text_input = ids
        else:
            text_input = torch.zeros(1, text_tokens, model.text_encoder.input_width)
        x = model.encode_video(video, video_mask)
        y = model.encode_text(text_input, text_mask)
        model.fuse_pairs(y, text_mask, x, video_mask, pair, pair)
    model.fusion.first_token_only = first_token_only
    return int(counter.get_total_flops())


def model_cost(model, text_backbone=None) -> dict[str, float]:
    """Parameters and FLOPs of a model at the paper's token counts (48 video, 30 text tokens).

    ``macs`` (multiply-adds, = flops / 2) is the unit of the paper's "FLOPs" column: its Table 13
    steps of ~0.34 G per video encoder layer equal one d = 768 layer's multiply-adds on 48 tokens.
    """
    backbone_params = count_parameters(text_backbone) if text_backbone is not None else 0
    flops = count_flops(model, text_backbone)
    return {
        "params": count_parameters(model) + backbone_params,
        "trainable_params": count_parameters(model, trainable_only=True),
        "frozen_text_backbone_params": backbone_params,
        "video_encoder_params": count_parameters(model.video_encoder),
        "fusion_params": count_parameters(model.fusion),
        "flops": flops,
        "macs": flops / 2,
        "params_m": (count_parameters(model) + backbone_params) / 1e6,
        "macs_g": flops / 2 / 1e9,
    }


def run_cost(run_dir: str | Path) -> dict[str, Any]:
    """Cost of a trained run's model, rebuilt from its best.pt (config and video feature width)."""
    from taco import checkpoint
    from taco.train import build_model

    best = Path(run_dir) / "best.pt"
    if not best.is_file():
        raise FileNotFoundError(f"no best.pt in run directory '{run_dir}': train it first")
    saved = checkpoint.load(best, required=("config", "video_dim"))
    cfg = config_module.from_dict(saved["config"])
    model = build_model(cfg, saved["video_dim"])
    backbone = _random_bert(_text_backbone_config(cfg.model.text_model)) if cfg.model.text_mode == "frozen" else None
    return {"run_id": cfg.tags.get("run_id", str(run_dir)), "video_layers": cfg.model.video_layers,
            "hidden_size": cfg.model.hidden_size, "text_model": cfg.model.text_model,
            "text_mode": cfg.model.text_mode, "video_dim": saved["video_dim"], **model_cost(model, backbone)}


def paper_cost(video_layers: int) -> dict[str, Any]:
    """Cost of the paper's architecture with ``video_layers`` video encoder layers."""
    return {"video_layers": video_layers, "hidden_size": PAPER_HIDDEN, "text_model": "bert-base (random weights)",
            "text_mode": "finetune", "video_dim": PAPER_VIDEO_DIM, **model_cost(paper_model(video_layers))}
