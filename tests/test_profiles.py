"""Params profiles: loading and validation, the runs and seeds they select, resolved run configs."""
import copy
from pathlib import Path

import pytest
import yaml

from taco import experiments, paths, profiles
from taco.config import RunConfig
from taco.experiments import ExperimentError, Run

ROOT = Path(__file__).resolve().parents[1]
PAPER_TABLES = yaml.safe_load((ROOT / "taco" / "paper_tables.yaml").read_text())
TACO_YC2 = "youcook2__r152+s3d_hm__v1__taco"


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "params" / f"{name}.yaml").read_text())


@pytest.fixture(scope="module")
def default_profile():
    return profiles.load_profile(ROOT / "params" / "default.yaml")


@pytest.fixture(scope="module")
def smoke_profile():
    return profiles.load_profile(ROOT / "params" / "smoke.yaml")


# --- runs and seeds ----------------------------------------------------------------------------

def test_unique_runs_deduplicate_shared_runs(default_profile):
    runs = profiles.unique_runs(default_profile)
    assert len(runs) == len(set(runs))
    # Hand count: Table 2 = 5 features x 2 methods x 2 datasets = 20; Table 3 adds L1, L1+L3 random and
    # L1+L3 cascade on both datasets (6); Table 4 adds det+adp, noun, verb (6); Tables 5, 6, 7 add 2, 2, 1;
    # Table 13 adds 0, 2 and 4 video layers (3); Tables 11, 12, 14 and Figure 3 reuse runs. Pretraining:
    # S3D-HM with the five Table 3 settings (Figure 2) and R-152+S3D-HM with TACo (6); Table 8 finetunes
    # three datasets per feature type (6); Table 9 reuses the pretrained model.
    assert len(runs) == 20 + 6 + 6 + 2 + 2 + 1 + 3 + 6 + 6
    table2_table3_runs = {c.run.id for t in ("table2", "table3") for r in experiments.TABLES[t] for c in r.cells.values()}
    assert len(table2_table3_runs) == 26


def test_method_table_runs_get_the_method_seeds(default_profile, smoke_profile):
    method_runs = {run.id for table in experiments.METHOD_TABLES for row in experiments.TABLES[table]
                   for run in row.runs()}
    groups = profiles.runs_by_seeds(default_profile)
    assert set(groups) == {(0, 1), (0, 1, 2, 3, 4)}
    assert set(groups[(0, 1, 2, 3, 4)]) == method_runs & set(profiles.unique_runs(default_profile))
    # A Table 2 run that Table 3 also reads (TACo, R-152+S3D-HM) is trained with the method seeds.
    assert profiles.run_seeds(default_profile, "msrvtt_split1__r152+s3d_hm__v1__taco") == [0, 1, 2, 3, 4]
    assert profiles.run_seeds(default_profile, "youcook2__s3d_hm__v1__taco") == [0, 1]
    assert list(profiles.runs_by_seeds(smoke_profile)) == [tuple(smoke_profile["seeds"])]  # no method_seeds
    bad = {**default_profile, "method_seeds": [3, 4]}
    with pytest.raises(ExperimentError, match="'method_seeds'"):
        profiles.check_profile(bad, "test")


# --- run configs -------------------------------------------------------------------------------

def test_run_config_merges_profile_dataset_run_and_seed(default_profile):
    cfg = profiles.run_config(default_profile, TACO_YC2, seed=2)
    assert (cfg.data.dataset, cfg.data.root, cfg.data.features) == ("youcook2", "data/synthetic/youcook2", "r152+s3d_hm")
    assert (cfg.data.max_video_tokens, cfg.data.max_text_tokens) == (48, 30)
    base = default_profile["base"]
    assert (cfg.model.video_layers, cfg.model.hidden_size, cfg.model.num_heads) == (
        1, base["model"]["hidden_size"], base["model"]["num_heads"])
    assert (cfg.loss.use_l1, cfg.loss.use_l2, cfg.loss.use_l3, cfg.loss.negatives) == (True, True, True, "cascade")
    assert cfg.loss.tokens_of_interest == "noun+verb"
    assert (cfg.optim.seed, cfg.optim.iterations, cfg.optim.batch_size, cfg.optim.eval_every) == (
        2, base["optim"]["iterations"], base["optim"]["batch_size"], base["optim"]["eval_every"])
    assert cfg.tags == {"tables": "table2,table3,table4,table11,table13,figure3", "setting": "taco",
                        "dataset": "youcook2", "features": "r152+s3d_hm", "video_layers": 1, "seed": 2,
                        "run_id": TACO_YC2, "run_name": f"{TACO_YC2}/seed2", "profile": "default",
                        "profile_description": default_profile["description"], "mlflow_log_checkpoints": False}
    assert profiles.run_config(default_profile, TACO_YC2, seed=0).hash() != cfg.hash()


def test_run_config_of_msrvtt_split2_and_activitynet(default_profile, smoke_profile):
    msrvtt = profiles.run_config(default_profile, "msrvtt_split2__r152+i3d_x101__v2__taco", seed=0)
    assert (msrvtt.data.dataset, msrvtt.data.split, msrvtt.data.root) == ("msrvtt", "split2", "data/synthetic/msrvtt")
    anet = profiles.run_config(smoke_profile, "activitynet__r152+s3d_hm__v2__taco", seed=1)
    assert (anet.data.max_video_tokens, anet.data.max_text_tokens) == (256, 256)
    assert anet.optim.batch_size == 4          # the smoke profile's datasets.activitynet override
    baseline = profiles.run_config(default_profile, "youcook2__s3d_hm__v1__l3_random", seed=0)
    assert (baseline.loss.use_l1, baseline.loss.use_l2, baseline.loss.negatives) == (False, False, "random")
    assert baseline.loss.tokens_of_interest == "none"


def test_real_data_roots_come_from_data_paths(tmp_path):
    profile = load("paper")
    profile["data"]["paths"] = {name: str(tmp_path / name)
                                for name in ("youcook2", "msrvtt", "activitynet", "howto100m", "crosstask", "coin")}
    for name in profile["data"]["paths"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "release.json").write_text("{}")
    profiles.check_profile(profile, "paper with real folders")
    cfg = profiles.run_config(profile, "msrvtt_split1__r152+s3d_hm__v2__taco", seed=0)
    assert cfg.data.root == str(tmp_path / "msrvtt")


def test_text_config_keeps_only_what_text_preparation_reads(smoke_profile):
    jobs = profiles.text_runs(smoke_profile)
    assert set(jobs) == {"youcook2__none", "youcook2__noun+verb", "activitynet__noun+verb", "howto100m__none",
                         "howto100m__noun+verb"}
    changed = copy.deepcopy(smoke_profile)
    changed["base"]["optim"]["lr"] = 3e-4
    for job in jobs:
        before, after = (profiles.text_config(p, job) for p in (smoke_profile, changed))
        assert before.to_dict() == after.to_dict()
        assert before.loss.tokens_of_interest == job.split("__")[1]
    for release in profiles.text_stats_releases(smoke_profile):
        assert profiles.stats_config(smoke_profile, release).to_dict() == \
            profiles.stats_config(changed, release).to_dict()
    changed["base"]["model"]["text_mode"] = "finetune"
    assert profiles.text_config(changed, "youcook2__none").to_dict() != \
        profiles.text_config(smoke_profile, "youcook2__none").to_dict()
    assert profiles.stats_config(smoke_profile, "msrvtt").data.split == "split1"


def test_resolved_config_names(smoke_profile):
    names = profiles.config_names(smoke_profile)
    assert len(names) == len(set(names)) == 19 * 2 + 5 + 3
    for name in names:
        assert isinstance(profiles.resolved_config(smoke_profile, name), RunConfig)
    run_cfg = profiles.resolved_config(smoke_profile, paths.config_name(TACO_YC2, 1))
    assert run_cfg.to_dict() == profiles.run_config(smoke_profile, TACO_YC2, 1).to_dict()
    with pytest.raises(ExperimentError, match="'nonsense'"):
        profiles.resolved_config(smoke_profile, "nonsense")


def test_evaluations_and_size_runs(default_profile, smoke_profile):
    items = profiles.evaluations(default_profile)
    assert sorted(e for _, _, e in items).count("full_fusion") == 3 * 5      # Table 12's three models x 5 method seeds
    figure3 = [(run, seed) for run, seed, e in items if e == "figure3"]
    assert figure3 == [(TACO_YC2, 0), ("msrvtt_split1__r152+s3d_hm__v1__taco", 0)]
    assert profiles.size_runs(default_profile) == [f"youcook2__r152+s3d_hm__v{n}__taco" for n in (0, 1, 2, 4)]
    assert profiles.size_runs(smoke_profile) == [f"youcook2__r152+s3d_hm__v{n}__taco" for n in (1, 2, 4)]
    transfer = [e for _, _, e in items if e.startswith(("zero_shot", "crosstask", "coin"))]
    assert len(transfer) == 5 * 2 * 2 + 2 + 2 * 2   # Figure 2's five models on two sets; Table 9 (2 seeds each)


# --- profiles ----------------------------------------------------------------------------------

def test_shipped_profiles_and_their_grids(default_profile, smoke_profile):
    assert len(default_profile["seeds"]) == 2 and len(default_profile["method_seeds"]) == 5
    smoke_runs = profiles.unique_runs(smoke_profile)
    # youcook2 x {r152+s3d_hm, s3d_hm} x {l3_random, taco} (4), l1 and l1_l3_cascade (2), s3d_hm v2 (1),
    # r152+s3d_hm v2 and v4 (Table 13, 2), ActivityNet (1); pretraining with four settings on S3D-HM and TACo
    # on R-152+S3D-HM (5), finetuned on YouCook2 and ActivityNet with both features (4).
    assert len(smoke_runs) == 19
    assert all(Run.parse(r).dataset in ("youcook2", "activitynet", "howto100m") for r in smoke_runs)


def test_paper_profile_holds_the_published_hyperparameters(tmp_path):
    profile = load("paper")
    published = PAPER_TABLES["hyperparameters"]
    optim = profile["base"]["optim"]
    per_dataset = published["per_dataset"]
    assert (optim["iterations"], optim["batch_size"], optim["lr"], optim["warmup"], optim["weight_decay"]) == \
        (per_dataset["iterations"], per_dataset["batch_size"], per_dataset["lr"], per_dataset["warmup"],
         per_dataset["weight_decay"])
    loss = profile["base"]["loss"]
    assert (loss["tau1"], loss["tau2"], loss["lambda_t"], loss["k_prime"]) == \
        (published["temperatures"]["tau1"], published["temperatures"]["tau2"], published["lambda_t"],
         published["hard_negatives_k_prime"])
    assert profile["base"]["eval"]["token_weight"] == published["test_token_weight"]
    assert (profile["base"]["model"]["hidden_size"], profile["base"]["model"]["text_mode"]) == (768, "finetune")
    # Its real-data placeholders do not exist here: the profile is refused, naming the keys.
    with pytest.raises(ExperimentError) as err:
        profiles.load_profile(ROOT / "params" / "paper.yaml")
    for release in ("youcook2", "msrvtt", "activitynet"):
        assert f"'data.paths.{release}'" in str(err.value)


@pytest.mark.parametrize("name", ["smoke", "paper"])
def test_profiles_given_with_configfile_are_not_changed_by_the_default(name, tmp_path):
    """snakemake --configfile merges a profile over params/default.yaml: it must come out unchanged."""
    from snakemake.utils import update_config

    profile = load(name)
    merged = load("default")
    update_config(merged, copy.deepcopy(profile))
    if name == "paper":
        (tmp_path / "annotations.json").write_text("{}")  # an empty dataset folder is refused
        for values in (profile, merged):
            values["data"]["paths"] = {k: str(tmp_path) for k in values["data"]["paths"]}
    profiles.check_profile(merged, "merged")
    for run in profiles.unique_runs(profile):
        assert profiles.run_config(merged, run, 0).to_dict() == profiles.run_config(profile, run, 0).to_dict()
    assert profiles.unique_runs(merged) == profiles.unique_runs(profile)


def bad_profile(edit) -> dict:
    profile = load("smoke")
    edit(profile)
    return profile


@pytest.mark.parametrize("edit, key, detail", [
    (lambda p: p["base"]["optim"].update(lr=-1e-4), "'base.optim.lr'", "less than or equal to the minimum of 0"),
    (lambda p: p["datasets"]["activitynet"]["optim"].update(lr=0), "'datasets.activitynet.optim.lr'", "minimum"),
    (lambda p: p["grid"].update(features=["r152+s3d_hm", "r50"]), "'grid.features[1]'", "unknown feature type 'r50'"),
    (lambda p: p["grid"].update(settings=["taco", "l2_only"]), "'grid.settings[1]'", "unknown setting 'l2_only'"),
    (lambda p: p["grid"].update(datasets=["youcook2", "didemo"]), "'grid.datasets[1]'", "'didemo' is not one of"),
    (lambda p: p.update(sedes=[0]), "unknown top-level key 'sedes'", "(allowed: base, data, datasets, "),
    (lambda p: p["data"].update(rot="x"), "unknown key 'rot' under 'data'", "(allowed: extract, paths, root, "),
    (lambda p: p["data"]["synthetic"].update(seed="7"), "'data.synthetic.seed'", "must be of type integer, not str"),
    (lambda p: p.update(seeds=[]), "'seeds'", "should be non-empty"),
    (lambda p: p["base"]["model"].update(num_heads=3), "'base'", "model.num_heads"),
    (lambda p: p["base"]["loss"].update(tau=1.0), "'base'", "unknown config key 'loss.tau'"),
    (lambda p: p["figure3"].update(seed=7), "'figure3.seed'", "not one of the profile's seeds"),
    (lambda p: p["grid"].update(datasets=["msrvtt_split2"], features=["r152"]), "'grid'", "keeps no run"),
    (lambda p: p["data"].update(source="real", paths={"youcook2": "/no/such/youcook2"}),
     "'data.paths.youcook2'", "'/no/such/youcook2' does not exist"),
    (lambda p: p["data"].update(source="real", paths={"youcook2": "/no/such/youcook2"}),
     "'data.paths.activitynet'", "required"),
    (lambda p: p["base"].setdefault("data", {}).update(features="bogus"), "'base.data.features'",
     "unknown feature type 'bogus'"),
    (lambda p: p["data"].update(source="real", paths={"youcook2": "EMPTY"}), "'data.paths.youcook2'", "is empty"),
])
def test_bad_params_are_refused_naming_the_key(edit, key, detail, tmp_path, monkeypatch):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad_profile(edit)))
    (tmp_path / "EMPTY").mkdir()
    monkeypatch.chdir(tmp_path)  # the empty dataset folder's relative path
    with pytest.raises(ExperimentError) as err:
        profiles.load_profile(path)
    message = str(err.value)
    assert str(path) in message and key in message and detail in message, message


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.update(bogus=1, zzz=[1]),
     "unknown top-level keys 'bogus', 'zzz' (allowed: base, data, datasets, description, downstream, figure3,"
     " finetune, grid, method_seeds, profile, schedule_sweep, seeds, tracking)"),
    (lambda p: p.update(seeds=1), "'seeds' must be of type array, not int 1"),
    (lambda p: p.update(data="x" * 200), "'data' must be of type object, not str '" + "x" * 56 + "..."),
])
def test_a_schema_error_is_one_line_naming_the_key(edit, message, tmp_path):
    """One line naming the file and the key path: unknown keys with the allowed ones, a wrong type with
    the expected one; never the whole profile (jsonschema's own messages quote it)."""
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad_profile(edit)))
    with pytest.raises(ExperimentError) as err:
        profiles.load_profile(path)
    assert str(err.value) == f"invalid params in {path}: {message}"


def test_missing_params_file_is_named(tmp_path):
    with pytest.raises(ExperimentError, match="nothing.yaml' does not exist"):
        profiles.load_profile(tmp_path / "nothing.yaml")
