"""Params profiles (``params/*.yaml``): loading and validation, the runs and seeds a profile selects
and the configs of its jobs.

A profile, validated against ``workflow/schemas/params.schema.yaml``, holds the run settings shared by
every run, the seeds, where the data lives and which slice of the grid (``taco.experiments``) to run;
``run_config`` merges it with the dataset, the run and the seed into a RunConfig.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from taco import config as config_module
from taco.config import RunConfig
from taco.experiments import (DATASETS, DOWNSTREAM_RELEASES, FULL_FUSION_OVERRIDES, METHOD_TABLES, PRETRAIN_DATASET,
                              RETRIEVAL_EVALUATIONS, SETTINGS, TABLES, TEXT_STATS_DATASETS, ExperimentError, Probe,
                              Run, canonical_setting, cell_probe, tables_of, text_job)
from taco.paths import (SEED_SUFFIX, STATS_CONFIG_PREFIX, TEXT_CONFIG_PREFIX, config_name, run_work_dir,
                        stats_config_name, text_config_name)

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "params.schema.yaml"


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


def run_seeds(profile: dict, run_id: str) -> list[int]:
    """The seeds a run is trained (and evaluated) with: ``method_seeds`` for a run that a method-claim
    table reads, else ``seeds``."""
    if profile.get("method_seeds") and set(tables_of(Run.parse(run_id))) & set(METHOD_TABLES):
        return list(profile["method_seeds"])
    return list(profile["seeds"])


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
