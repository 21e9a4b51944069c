"""The experiment grid and model-cost counting (params profiles and run configs: test_profiles.py)."""
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


# --- the grid ----------------------------------------------------------------------------------

def test_table_sizes_follow_the_paper():
    sizes = {table: len(rows) for table, rows in experiments.TABLES.items()}
    assert sizes == {"table2": 10, "table3": 5, "table4": 5, "table5": 2, "table6": 2, "table7": 1, "table11": 6,
                     "table12": 3, "table13": 4, "table14": 1, "figure3": 2,
                     "table8": 3, "table9": 1, "figure2": 5}
    # Tables 2-4 read one run per dataset column; every row of the other tables names its runs.
    for table in ("table2", "table3", "table4"):
        assert all(set(row.cells) == {"youcook2", "msrvtt_split1"} for row in experiments.TABLES[table])


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
