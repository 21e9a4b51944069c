"""The experiment grid, params profiles, resolved run configs and model-cost counting."""
import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from taco import experiments
from taco.experiments import ExperimentError, Run

ROOT = Path(__file__).resolve().parents[1]
PAPER_TABLES = yaml.safe_load((ROOT / "taco" / "paper_tables.yaml").read_text())
TACO_YC2 = "youcook2__r152+s3d_hm__v1__taco"


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "params" / f"{name}.yaml").read_text())


@pytest.fixture(scope="module")
def default_profile():
    return experiments.load_profile(ROOT / "params" / "default.yaml")


@pytest.fixture(scope="module")
def smoke_profile():
    return experiments.load_profile(ROOT / "params" / "smoke.yaml")


# --- the grid ----------------------------------------------------------------------------------

def test_table_sizes_follow_the_paper():
    sizes = {table: len(rows) for table, rows in experiments.TABLES.items()}
    assert sizes == {"table2": 10, "table3": 5, "table4": 5, "table5": 2, "table6": 2, "table7": 1, "table11": 6,
                     "table12": 3, "table13": 4, "table14": 1, "figure3": 2,
                     "table8": 3, "table9": 1, "figure2": 5}
    # Tables 2-4 read one run per dataset column; every row of the other tables names its runs.
    for table in ("table2", "table3", "table4"):
        assert all(set(row.cells) == {"youcook2", "msrvtt_split1"} for row in experiments.TABLES[table])


def test_unique_runs_deduplicate_shared_runs(default_profile):
    runs = experiments.unique_runs(default_profile)
    assert len(runs) == len(set(runs))
    # Hand count: Table 2 = 5 features x 2 methods x 2 datasets = 20; Table 3 adds L1, L1+L3 random and
    # L1+L3 cascade on both datasets (6); Table 4 adds det+adp, noun, verb (6); Tables 5, 6, 7 add 2, 2, 1;
    # Table 13 adds 0, 2 and 4 video layers (3); Tables 11, 12, 14 and Figure 3 reuse runs. Pretraining:
    # S3D-HM with the five Table 3 settings (Figure 2) and R-152+S3D-HM with TACo (6); Table 8 finetunes
    # three datasets per feature type (6); Table 9 reuses the pretrained model.
    assert len(runs) == 20 + 6 + 6 + 2 + 2 + 1 + 3 + 6 + 6
    table2_table3_runs = {c.run.id for t in ("table2", "table3") for r in experiments.TABLES[t] for c in r.cells.values()}
    assert len(table2_table3_runs) == 26


def test_the_full_model_on_youcook2_is_one_run_shared_by_six_tables():
    assert experiments.tables_of(Run.parse(TACO_YC2)) == ["table2", "table3", "table4", "table11", "table13", "figure3"]
    readers = [(table, row.key) for table, rows in experiments.TABLES.items() for row in rows
               for cell in row.cells.values() if cell.run.id == TACO_YC2]
    assert len(readers) == 1 + 1 + 1 + 4 + 1 + 1  # Table 11 reads four scores of it


def test_setting_aliases_name_the_same_runs():
    table3 = {row.key["losses"] + str(row.key["cascade"]): row for row in experiments.TABLES["table3"]}
    table4 = {row.key["tokens"]: row for row in experiments.TABLES["table4"]}
    assert table4["none"].cells == table3["L1+L3True"].cells
    assert table4["noun+verb"].cells == table3["L1+L2+L3True"].cells
    baseline = next(r for r in experiments.TABLES["table2"] if r.key == {"features": "r152+s3d_hm", "method": "baseline"})
    assert baseline.cells == table3["L3n/a"].cells
    assert experiments.canonical_setting("baseline") == "l3_random"
    with pytest.raises(ExperimentError, match="unknown setting 'tok_adj'"):
        experiments.canonical_setting("tok_adj")


def test_settings_switch_the_losses_of_table3():
    expected = {"l1": (True, False, False), "l3_random": (False, False, True), "l1_l3_random": (True, False, True),
                "l1_l3_cascade": (True, False, True), "taco": (True, True, True)}
    for setting, flags in expected.items():
        loss = experiments.SETTINGS[setting]
        assert (loss["use_l1"], loss["use_l2"], loss["use_l3"]) == flags
    assert experiments.SETTINGS["l1_l3_random"]["negatives"] == "random"
    assert experiments.SETTINGS["l1_l3_cascade"]["negatives"] == "cascade"
    assert [experiments.SETTINGS[f"tok_{t}"]["tokens_of_interest"] for t in ("det+adp", "noun", "verb")] == \
        ["det+adp", "noun", "verb"]


def test_every_row_key_selects_exactly_one_published_row():
    for table, rows in experiments.TABLES.items():
        if table in ("figure2", "figure3"):  # plotted, not tabulated; qualitative
            continue
        published = PAPER_TABLES[table]["rows"]
        for row in rows:
            matches = [p for p in published if all(k in p and p[k] == v for k, v in row.key.items())]
            assert len(matches) == 1, (table, row.key)
            # A published row has a value for each of our dataset columns (Table 9: both COIN modes read "coin").
            assert all(column.removesuffix("_linear_probe").removesuffix("_finetune") in matches[0]
                       for column in row.cells), (table, row.key)


def test_table_cells_read_the_scores_the_paper_reports():
    table11 = {row.key["score"]: row.cells["youcook2"] for row in experiments.TABLES["table11"]}
    assert (table11["early_stage_only_model"].run.setting, table11["early_stage_only_model"].score) == ("l1", "early")
    assert (table11["later_stage_only_model"].run.setting, table11["later_stage_only_model"].score) == ("l3_random", "later")
    assert {table11[k].score for k in ("early_stage", "token_level", "later_stage", "fused")} == \
        {"early", "token", "later", "fused"}
    for row in experiments.TABLES["table12"]:
        assert (row.cells["youcook2"].score, row.cells["youcook2"].evaluation) == ("later", "full_fusion")
    assert [row.cells["youcook2"].run.video_layers for row in experiments.TABLES["table13"]] == [0, 1, 2, 4]
    assert experiments.TABLES["table14"][0].size_run.video_layers == 4


def test_run_ids_round_trip_and_reject_bad_ids():
    run = Run("msrvtt_split2", "r152+i3d_x101", 2, "taco")
    assert run.id == "msrvtt_split2__r152+i3d_x101__v2__taco"
    assert Run.parse(run.id) == run
    with pytest.raises(ExperimentError, match="'youcook2__r152__taco'"):
        Run.parse("youcook2__r152__taco")
    with pytest.raises(ExperimentError, match="unknown dataset key 'howto'"):
        Run.parse("howto__r152__v1__taco")
    with pytest.raises(ExperimentError, match="alias"):
        Run("youcook2", "r152", 1, "baseline")


# --- run configs -------------------------------------------------------------------------------

def test_run_config_merges_profile_dataset_run_and_seed(default_profile):
    cfg = experiments.run_config(default_profile, TACO_YC2, seed=2)
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
    assert experiments.run_config(default_profile, TACO_YC2, seed=0).hash() != cfg.hash()


def test_run_config_of_msrvtt_split2_and_activitynet(default_profile, smoke_profile):
    msrvtt = experiments.run_config(default_profile, "msrvtt_split2__r152+i3d_x101__v2__taco", seed=0)
    assert (msrvtt.data.dataset, msrvtt.data.split, msrvtt.data.root) == ("msrvtt", "split2", "data/synthetic/msrvtt")
    anet = experiments.run_config(smoke_profile, "activitynet__r152+s3d_hm__v2__taco", seed=1)
    assert (anet.data.max_video_tokens, anet.data.max_text_tokens) == (256, 256)
    assert anet.optim.batch_size == 4          # the smoke profile's datasets.activitynet override
    baseline = experiments.run_config(default_profile, "youcook2__s3d_hm__v1__l3_random", seed=0)
    assert (baseline.loss.use_l1, baseline.loss.use_l2, baseline.loss.negatives) == (False, False, "random")
    assert baseline.loss.tokens_of_interest == "none"


def test_real_data_roots_come_from_data_paths(tmp_path):
    profile = load("paper")
    profile["data"]["paths"] = {name: str(tmp_path / name)
                                for name in ("youcook2", "msrvtt", "activitynet", "howto100m", "crosstask", "coin")}
    for name in profile["data"]["paths"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "release.json").write_text("{}")
    experiments.check_profile(profile, "paper with real folders")
    cfg = experiments.run_config(profile, "msrvtt_split1__r152+s3d_hm__v2__taco", seed=0)
    assert cfg.data.root == str(tmp_path / "msrvtt")


def test_text_config_keeps_only_what_text_preparation_reads(smoke_profile):
    jobs = experiments.text_runs(smoke_profile)
    assert set(jobs) == {"youcook2__none", "youcook2__noun+verb", "activitynet__noun+verb", "howto100m__none",
                         "howto100m__noun+verb"}
    changed = copy.deepcopy(smoke_profile)
    changed["base"]["optim"]["lr"] = 3e-4
    for job in jobs:
        before, after = (experiments.text_config(p, job) for p in (smoke_profile, changed))
        assert before.to_dict() == after.to_dict()
        assert before.loss.tokens_of_interest == job.split("__")[1]
    for release in experiments.text_stats_releases(smoke_profile):
        assert experiments.stats_config(smoke_profile, release).to_dict() == \
            experiments.stats_config(changed, release).to_dict()
    changed["base"]["model"]["text_mode"] = "finetune"
    assert experiments.text_config(changed, "youcook2__none").to_dict() != \
        experiments.text_config(smoke_profile, "youcook2__none").to_dict()
    assert experiments.stats_config(smoke_profile, "msrvtt").data.split == "split1"


def test_resolved_config_names(smoke_profile):
    names = experiments.config_names(smoke_profile)
    assert len(names) == len(set(names)) == 19 * 2 + 5 + 3
    for name in names:
        assert isinstance(experiments.resolved_config(smoke_profile, name), experiments.RunConfig)
    run_cfg = experiments.resolved_config(smoke_profile, experiments.config_name(TACO_YC2, 1))
    assert run_cfg.to_dict() == experiments.run_config(smoke_profile, TACO_YC2, 1).to_dict()
    with pytest.raises(ExperimentError, match="'nonsense'"):
        experiments.resolved_config(smoke_profile, "nonsense")


def test_evaluations_and_size_runs(default_profile, smoke_profile):
    items = experiments.evaluations(default_profile)
    assert sorted(e for _, _, e in items).count("full_fusion") == 3 * 5      # Table 12's three models x 5 method seeds
    figure3 = [(run, seed) for run, seed, e in items if e == "figure3"]
    assert figure3 == [(TACO_YC2, 0), ("msrvtt_split1__r152+s3d_hm__v1__taco", 0)]
    assert experiments.size_runs(default_profile) == [f"youcook2__r152+s3d_hm__v{n}__taco" for n in (0, 1, 2, 4)]
    assert experiments.size_runs(smoke_profile) == [f"youcook2__r152+s3d_hm__v{n}__taco" for n in (1, 2, 4)]
    transfer = [e for _, _, e in items if e.startswith(("zero_shot", "crosstask", "coin"))]
    assert len(transfer) == 5 * 2 * 2 + 2 + 2 * 2   # Figure 2's five models on two sets; Table 9 (2 seeds each)


# --- profiles ----------------------------------------------------------------------------------

def test_shipped_profiles_and_their_grids(default_profile, smoke_profile):
    assert len(default_profile["seeds"]) == 2 and len(default_profile["method_seeds"]) == 5
    smoke_runs = experiments.unique_runs(smoke_profile)
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
        experiments.load_profile(ROOT / "params" / "paper.yaml")
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
    experiments.check_profile(merged, "merged")
    for run in experiments.unique_runs(profile):
        assert experiments.run_config(merged, run, 0).to_dict() == experiments.run_config(profile, run, 0).to_dict()
    assert experiments.unique_runs(merged) == experiments.unique_runs(profile)


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
        experiments.load_profile(path)
    message = str(err.value)
    assert str(path) in message and key in message and detail in message, message


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.update(bogus=1, zzz=[1]),
     "unknown top-level keys 'bogus', 'zzz' (allowed: base, data, datasets, description, downstream, figure3,"
     " finetune, grid, method_seeds, profile, seeds, tracking)"),
    (lambda p: p.update(seeds=1), "'seeds' must be of type array, not int 1"),
    (lambda p: p.update(data="x" * 200), "'data' must be of type object, not str '" + "x" * 56 + "..."),
])
def test_a_schema_error_is_one_line_naming_the_key(edit, message, tmp_path):
    """One line naming the file and the key path: unknown keys with the allowed ones, a wrong type with
    the expected one; never the whole profile (jsonschema's own messages quote it)."""
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad_profile(edit)))
    with pytest.raises(ExperimentError) as err:
        experiments.load_profile(path)
    assert str(err.value) == f"invalid params in {path}: {message}"


def test_missing_params_file_is_named(tmp_path):
    with pytest.raises(ExperimentError, match="nothing.yaml' does not exist"):
        experiments.load_profile(tmp_path / "nothing.yaml")


# --- source files of the workflow's commands ---------------------------------------------------

def test_code_dependencies_cover_every_module_a_command_loads():
    declared = set(experiments.cli_dependencies("taco.train"))
    assert {"taco/cli.py", "taco/__main__.py", "taco/train.py", "taco/losses.py", "taco/model/__init__.py",
            "taco/model/fusion.py", "taco/data/retrieval.py"} <= declared
    assert not {"taco/reports/writer.py", "taco/data/synthetic/generate.py", "taco/features/extract.py"} & declared
    # Independent check: the package modules Python actually loads for the command are all declared.
    script = ("import sys, taco.cli, taco.train; import taco, pathlib; root = pathlib.Path(taco.__file__).parent.parent;"
              "print('\\n'.join(sorted(str(pathlib.Path(m.__file__).relative_to(root)) for m in list(sys.modules.values())"
              " if getattr(m, '__file__', None) and m.__name__.split('.')[0] == 'taco')))")
    loaded = set(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                cwd=ROOT).stdout.split())
    assert loaded and loaded <= declared, loaded - declared
    with pytest.raises(ExperimentError, match="'taco.nothing'"):
        experiments.code_dependencies("taco.nothing")


# --- model size and FLOPs ----------------------------------------------------------------------

def test_count_parameters_by_hand():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), shared, shared, nn.Linear(4, 2))
    assert experiments.count_parameters(model) == (3 * 4 + 4) + (4 * 4 + 4) + (4 * 2 + 2)  # shared counted once
    model[0].requires_grad_(False)
    assert experiments.count_parameters(model, trainable_only=True) == (4 * 4 + 4) + (4 * 2 + 2)


def layer_macs(tokens: int, d: int, ffn: int) -> int:
    """Multiply-adds of one post-norm Transformer layer: QKV, QK^T, AV, output projection, FFN."""
    return tokens * 3 * d * d + 2 * tokens * tokens * d + tokens * d * d + 2 * tokens * d * ffn


def test_count_flops_by_hand():
    from transformers import BertConfig

    from taco.config import ModelConfig
    from taco.model.taco_model import TacoModel

    d, video_dim, m, n = 8, 6, 5, 4
    cfg = ModelConfig(hidden_size=d, num_heads=2, video_layers=1, fusion_layers=1, text_mode="frozen")
    model = TacoModel(cfg, video_dim, max_video_tokens=m, max_text_tokens=n)
    text_width = model.text_encoder.input_width
    expected_macs = (m * video_dim * d + layer_macs(m, d, 4 * d)       # video projection + 1 layer
                     + n * text_width * d                              # frozen text features -> d
                     + layer_macs(m + n, d, 4 * d) + d)                # 1 fusion layer + score w . z_cls
    assert experiments.count_flops(model, video_tokens=m, text_tokens=n) == 2 * expected_macs
    backbone = experiments._random_bert(BertConfig(vocab_size=30, hidden_size=d, num_hidden_layers=1,
                                                   num_attention_heads=2, intermediate_size=16))
    backbone_macs = layer_macs(n, d, 16) + d * d                       # 1 BERT layer + pooler on [CLS]
    assert experiments.count_flops(model, backbone, video_tokens=m, text_tokens=n) == 2 * (expected_macs + backbone_macs)


def test_paper_architecture_matches_the_published_sizes():
    """Table 13: 126.5M params / 3.86 GFLOPs without video layers; each layer adds one BERT-base layer."""
    zero, one = experiments.paper_cost(0), experiments.paper_cost(1)
    d = 768
    bert_layer_params = (3 * d * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d) + 2 * 2 * d
    assert one["params"] - zero["params"] == bert_layer_params
    assert one["flops"] - zero["flops"] == 2 * layer_macs(48, d, 4 * d)
    published = {row["video_layers"]: row for row in PAPER_TABLES["table13"]["rows"]}
    assert zero["params_m"] == pytest.approx(published[0]["params_m"], rel=0.01)
    assert zero["macs_g"] == pytest.approx(published[0]["flops_g"], rel=0.03)
    assert one["params_m"] == pytest.approx(published[1]["params_m"], rel=0.01)
    assert zero["trainable_params"] == zero["params"]   # BERT is finetuned in the paper


# --- the workflow's commands on a tiny trained run ---------------------------------------------

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from conftest import TINY_RUN, write_tiny_youcook2

    from taco.config import from_dict
    from taco.train import train

    root = tmp_path_factory.mktemp("experiments")
    data = write_tiny_youcook2(root / "youcook2")
    cfg = from_dict({**TINY_RUN, "data": {"dataset": "youcook2", "root": str(data), "features": "r152+s3d_hm",
                                          "val_fraction": 0.2},
                     "cache_dir": str(root / "cache"), "tags": {"run_id": "tiny"}})
    train(cfg, root / "run", progress=False, track=False)
    return root / "run"


def test_model_size_command_counts_the_trained_model(tiny_run, tmp_path):
    from taco.cli import main

    out = tmp_path / "sizes.json"
    assert main(["model-size", "--run", str(tiny_run), "--paper-video-layers", "0", "--out", str(out)]) == 0
    sizes = yaml.safe_load(out.read_text())
    ours = sizes["runs"]["tiny"]
    saved = torch.load(tiny_run / "best.pt", map_location="cpu", weights_only=False)
    assert ours["trainable_params"] == sum(t.numel() for t in saved["model"].values())  # every weight trains
    assert ours["frozen_text_backbone_params"] == pytest.approx(22.7e6, rel=0.01)  # MiniLM-L6 (docs/data_formats.md)
    assert ours["params"] == ours["trainable_params"] + ours["frozen_text_backbone_params"]
    assert ours["macs"] * 2 == ours["flops"] and sizes["paper"]["0"]["video_layers"] == 0
    assert not list(tmp_path.glob(".*.tmp"))


def test_figure3_command_ranks_test_segments_per_token_weight(tiny_run, tmp_path):
    from taco.cli import main

    out = tmp_path / "figure3.json"
    assert main(["figure3", "--run", str(tiny_run), "--queries", "2", "--seed", "3", "--top", "3",
                 "--out", str(out), "--quiet"]) == 0
    result = yaml.safe_load(out.read_text())
    assert len(result["queries"]) == 2 and set(result["retrievals"]) == {"0.0", "0.1", "0.5"}
    for weight, by_query in result["retrievals"].items():
        assert set(by_query) == set(result["queries"])
        for query, top in by_query.items():
            assert len(top) == 3
            assert len({tuple(item["segment"]) for item in top}) == 3
            # "correct" marks the query's own segment (at most one), which holds the query among its captions.
            assert sum(item["correct"] for item in top) <= 1
            assert all(query in item["captions"] for item in top if item["correct"])
    again = tmp_path / "again.json"
    assert main(["figure3", "--run", str(tiny_run), "--queries", "2", "--seed", "3", "--top", "3",
                 "--out", str(again), "--quiet"]) == 0
    assert again.read_text() == out.read_text()      # the draw and the ranking are deterministic


def test_method_table_runs_get_the_method_seeds(default_profile, smoke_profile):
    method_runs = {run.id for table in experiments.METHOD_TABLES for row in experiments.TABLES[table]
                   for run in row.runs()}
    groups = experiments.runs_by_seeds(default_profile)
    assert set(groups) == {(0, 1), (0, 1, 2, 3, 4)}
    assert set(groups[(0, 1, 2, 3, 4)]) == method_runs & set(experiments.unique_runs(default_profile))
    # A Table 2 run that Table 3 also reads (TACo, R-152+S3D-HM) is trained with the method seeds.
    assert experiments.run_seeds(default_profile, "msrvtt_split1__r152+s3d_hm__v1__taco") == [0, 1, 2, 3, 4]
    assert experiments.run_seeds(default_profile, "youcook2__s3d_hm__v1__taco") == [0, 1]
    assert list(experiments.runs_by_seeds(smoke_profile)) == [tuple(smoke_profile["seeds"])]  # no method_seeds
    bad = {**default_profile, "method_seeds": [3, 4]}
    with pytest.raises(ExperimentError, match="'method_seeds'"):
        experiments.check_profile(bad, "test")
