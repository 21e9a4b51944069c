"""The paper's experiment grid as data: settings, datasets, runs, table cells, tables and model cost.

- A *run* is one trained model, identified by (dataset key, features, video encoder layers, loss
  setting), e.g. ``youcook2__r152+s3d_hm__v1__taco``; it is trained once per seed and shared by
  every table that reads it.
- ``TABLES`` lists, for Tables 2-7 and 11-14 and Figure 3, the rows of the paper (keys as in the
  published ``tables.yaml``) and, per column, the run, the score and the evaluation to read.
- Model size and FLOPs (Tables 13, 14) are counted from built models, for our configs and for the
  paper's architecture (BERT-base text encoder, d = 768) with random weights.

Which runs a params profile trains and their configs are in ``taco.profiles``, the files under
``results/`` in ``taco.paths``. Importable without snakemake, dvc or mlflow; torch and transformers
are imported only to count.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taco import config as config_module


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


DOWNSTREAM_RELEASES = {"crosstask": "crosstask", **{f"coin_{mode}": "coin" for mode in COIN_MODES}}
"""Downstream evaluation -> the release it reads (Table 9)."""


def text_job(run_id: str) -> str:
    """The text preparation job a run depends on: its dataset key and tokens of interest."""
    run = Run.parse(run_id)
    return f"{run.dataset}{RUN_ID_SEPARATOR}{SETTINGS[run.setting]['tokens_of_interest']}"


def text_job_dataset(job: str) -> str:
    """The dataset key of a text preparation job (``<dataset>__<tokens>``)."""
    return job.split(RUN_ID_SEPARATOR)[0]


TEXT_STATS_DATASETS = {"youcook2": "youcook2", "msrvtt": "msrvtt_split1", "activitynet": "activitynet"}
"""Table 10 and Figure 4: release -> the dataset key whose training captions are counted."""


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
