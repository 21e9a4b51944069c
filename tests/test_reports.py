"""Reports: claim verdicts, formatting, tables from fabricated metrics files equal those from MLflow,
missing and stale results, the README index, text statistics."""
from __future__ import annotations

import json
import random
import re
import statistics
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from taco import config as config_module
from taco import experiments, profiles
from taco.cli import main
from taco.paired import Interval, SeedQueries, paired_difference
from taco.reports import claims, inputs, tables, verdicts
from taco.reports.cells import rsum_per_query
from taco.reports.claims import (INCONCLUSIVE, MISSING, NOT_REPRODUCED, REPRODUCED, Claim, check_claim, claim_verdict,
                                 comparison_verdict, row)
from taco.reports.markdown import SYNTHETIC_NOTE, format_mean_std

REPO = Path(__file__).resolve().parents[1]
SEEDS = [0, 1, 2]
SETTINGS = ["l1", "l3_random", "l1_l3_random", "l1_l3_cascade", "taco"]
SCORES = ("early", "token", "later", "fused")
METRICS = ("r1", "r5", "r10", "r50", "mr", "mean_r")


# ---------------------------------------------------------------------------------------------
# Verdicts and formatting on hand-made numbers
# ---------------------------------------------------------------------------------------------

def test_comparison_verdicts_follow_the_interval():
    def interval(low, high):
        return Interval((low + high) / 2, low, high, 1.0, 3, 100)

    assert comparison_verdict(interval(0.5, 3.0)) == REPRODUCED
    assert comparison_verdict(interval(-3.0, -0.1)) == NOT_REPRODUCED
    assert comparison_verdict(interval(-1.0, 2.0)) == INCONCLUSIVE
    assert comparison_verdict(interval(0.0, 2.0)) == INCONCLUSIVE      # strict: an interval touching 0
    assert comparison_verdict(None) == MISSING


def per_query(rsum_by_seed: dict[int, list[float]]) -> dict[int, SeedQueries]:
    """Per-query values whose R@1+R@5+R@10 is the given list (all in R@1), ranks 1."""
    return {seed: SeedQueries(np.arange(len(v)), {"r1": np.asarray(v, float), "r5": np.zeros(len(v)),
                                                  "r10": np.zeros(len(v)), "rank": np.ones(len(v))})
            for seed, v in rsum_by_seed.items()}


def test_claim_verdict_needs_every_comparison():
    assert claim_verdict([REPRODUCED, REPRODUCED]) == REPRODUCED
    assert claim_verdict([REPRODUCED, INCONCLUSIVE]) == INCONCLUSIVE
    assert claim_verdict([REPRODUCED, MISSING, INCONCLUSIVE]) == MISSING
    assert claim_verdict([MISSING, NOT_REPRODUCED, REPRODUCED]) == NOT_REPRODUCED


def test_check_claim_on_hand_made_rows():
    a, b, c = row("t", "col", name="a"), row("t", "col", name="b"), row("t", "col", name="c")
    measured = {a: per_query({0: [60, 70, 80], 1: [66, 76, 86]}),
                b: per_query({0: [6, 16, 26], 1: [12, 22, 32]}),        # a - b = 54 on every query and seed
                c: None}
    paper = {a: {"r1": 5, "r5": 6, "r10": 7}, b: {"r1": 1, "r5": 1, "r10": 1}, c: {"r1": 9, "r5": 9, "r10": 9}}
    check = check_claim(Claim("t", "a beats b", ((a, b),)), measured.get, paper.get)
    assert check.verdict == REPRODUCED and check.paper_supports
    only = check.comparisons[0]
    assert (only.interval.estimate, only.interval.low, only.interval.high) == (54.0, 54.0, 54.0)
    assert (only.interval.seeds, only.interval.queries) == (2, 3)
    assert (only.paper_better, only.paper_worse) == (18, 3)
    check = check_claim(Claim("t", "a beats b and c", ((a, b), (a, c))), measured.get, paper.get)
    assert check.verdict == MISSING and not check.paper_supports   # the paper has c above a
    check = check_claim(Claim("t", "b beats a on R@1", ((b, a),), metric="r1"), measured.get, paper.get)
    assert check.verdict == NOT_REPRODUCED
    # Ranks: lower is better; a's rank 1 everywhere against b's rank 1 is a tie on every query.
    check = check_claim(Claim("t", "a ranks lower", ((a, b),), metric="mr", direction="lower"), measured.get,
                        {a: {"mr": 1}, b: {"mr": 2}}.get)
    assert check.verdict == INCONCLUSIVE and check.comparisons[0].interval.estimate == 0.0


def test_median_mde_reads_the_row_comparisons():
    a, b, c = row("t", "col", name="a"), row("t", "col", name="b"), row("t", "col", name="c")
    rng = np.random.default_rng(0)
    measured = {r: per_query({0: rng.normal(50, 20, 40).tolist()}) for r in (a, b, c)}
    paper = {r: {"r1": 3 - i, "r5": 0, "r10": 0} for i, r in enumerate((a, b, c))}
    check = check_claim(Claim("t", "a > b > c", ((a, b), (b, c), (a, c))), measured.get, paper.get)
    mdes = sorted(c.interval.mde for c in check.comparisons)
    assert claims.median_mde([check]) == pytest.approx(mdes[1])
    assert all(c.interval.mde == pytest.approx(2.8 * c.interval.se) for c in check.comparisons)


def test_claims_are_data_that_the_paper_supports():
    paper_tables = inputs.load_paper_tables()
    lookup = tables.paper_lookup(paper_tables)
    tables_with_claims = {claim.table for claim in claims.CLAIMS}
    assert tables_with_claims == {"table2", "table3", "table4", "table5", "table6", "table8", "table11", "table12",
                                  "table13"}
    for claim in claims.CLAIMS:
        check = claims.check_claim(claim, lambda ref: None, lookup)
        assert check.paper_supports, f"the paper's numbers do not support '{claim.description}'"
        sides = [side for pair in claim.comparisons for side in pair]
        refs = [r for side in sides for r in ((side.numerator, side.denominator)
                                               if isinstance(side, claims.RatioRef) else (side,))]
        for ref in refs:   # every row is one we reproduce
            assert tables.find_table_row(ref.table, lookup_row(paper_tables, ref)) is not None, ref.describe()


def test_a_ratio_claim_pairs_seeds_and_uses_the_published_ratio():
    """Table 8: zero-shot / finetuned R@1+R@5+R@10, YouCook2 vs MSR-VTT, by hand."""
    claim = next(c for c in claims.CLAIMS if isinstance(c.comparisons[0][0], claims.RatioRef))
    (better, worse), = claim.comparisons
    measured = {better.numerator: per_query({0: [6, 6], 1: [6, 6]}),
                better.denominator: per_query({0: [12, 12], 1: [12, 12]}),   # ratio 0.5
                worse.numerator: per_query({0: [3, 3, 3], 1: [3, 3, 3]}),
                worse.denominator: per_query({0: [30, 30, 30], 1: [30, 30, 30]})}  # ratio 0.1
    check = claims.check_claim(claim, measured.get, tables.paper_lookup(inputs.load_paper_tables()))
    comparison = check.comparisons[0]
    assert (comparison.interval.estimate, comparison.interval.low, comparison.interval.high) == pytest.approx(
        (0.4, 0.4, 0.4))
    assert comparison.paper_better == pytest.approx((19.9 + 43.2 + 55.7) / (29.6 + 59.7 + 72.7))
    assert comparison.paper_worse == pytest.approx((9.8 + 25.0 + 33.4) / (24.8 + 52.1 + 64.0))
    assert comparison.verdict == claims.REPRODUCED
    measured[worse.denominator] = per_query({5: [30, 30, 30]})   # no seed in common with the others
    assert claims.check_claim(claim, measured.get, tables.paper_lookup(
        inputs.load_paper_tables())).verdict == claims.MISSING


def lookup_row(paper_tables: dict, ref) -> dict:
    return next(r for r in paper_tables[ref.table]["rows"] if ref.matches(r))


def test_claim_rejects_unknown_direction():
    with pytest.raises(ValueError, match="direction"):
        Claim("t", "bad", ((row("t", "c"), row("t", "c")),), direction="up")


@pytest.mark.parametrize(("values", "text"), [([1.0, 2.0, 3.0], "2.0 ± 1.0"), ([15.84, 15.84], "15.8 ± 0.0"),
                                              ([0.25, 0.75], "0.5 ± 0.4"), ([42.0], "42.0")])
def test_mean_std_formatting(values, text):
    mean, std = statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0
    assert format_mean_std(mean, std, len(values)) == text


def test_metric_value_and_labels():
    assert claims.metric_value({"r1": 1.5, "r5": 2.0, "r10": 3.0}, "rsum") == 6.5
    assert claims.metric_value({"mr": 4.0}, "mr") == 4.0
    assert claims.metric_label("r10") == "R@10" and claims.metric_label("mr") == "MR"
    assert inputs.t2v_metrics({"later/t2v_r1": 1.0, "later/v2t_r1": 2.0, "fused/t2v_r1": 3.0}, "later") == {"r1": 1.0}


# ---------------------------------------------------------------------------------------------
# Fabricated results in the published layout
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def profile_path(tmp_path) -> Path:
    """The smoke profile restricted to the YouCook2 ablation runs, three seeds."""
    values = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    values.update(seeds=SEEDS, method_seeds=SEEDS,
                  grid={"datasets": ["youcook2"], "features": ["r152+s3d_hm"], "video_layers": [1],
                        "settings": SETTINGS})
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def fabricated_items(profile: dict) -> dict[tuple[str, int, str], str]:
    """(run id, seed, evaluation) -> config hash, for every cell the tables read, computed here from the
    run configs (full-fusion evaluations run with eval.fusion=full)."""
    runs = {cell.run.id: cell for rows in experiments.TABLES.values() for r in rows for cell in r.cells.values()
            if cell.run.dataset == "youcook2" and cell.run.features == "r152+s3d_hm" and cell.run.video_layers == 1
            and cell.run.setting in SETTINGS}
    items = {}
    for rows in experiments.TABLES.values():
        for r in rows:
            for cell in r.cells.values():
                if cell.run.id not in runs or cell.evaluation == "figure3":
                    continue
                for seed in SEEDS:
                    values = profiles.run_config(profile, cell.run.id, seed).to_dict()
                    if cell.evaluation == "full_fusion":
                        values = config_module.apply_overrides(values, ["eval.fusion=full"])
                    items[(cell.run.id, seed, cell.evaluation)] = config_module.from_dict(values).hash()
    return items


def fabricate_metrics(rng: random.Random) -> dict[str, float]:
    return {f"{score}/{direction}_{metric}": rng.uniform(0, 100) for score in SCORES for direction in ("t2v", "v2t")
            for metric in METRICS}


def item_path(results: Path, run_id: str, seed: int, evaluation: str) -> Path:
    """The published layout: results/runs/<run>/seed<k>/metrics.json, results/evaluations/<run>/seed<k>/<name>.json."""
    if evaluation == "train":
        return results / "runs" / run_id / f"seed{seed}" / "metrics.json"
    return results / "evaluations" / run_id / f"seed{seed}" / f"{evaluation}.json"


QUERIES = 30
TACO = "youcook2__r152+s3d_hm__v1__taco"


def fabricate_per_query(rng: random.Random, scores=SCORES) -> dict:
    """Per-query values of every score in the layout of the result files: R@K 0 or 100, ranks."""
    out = {}
    for score in scores:
        ranks = [rng.randint(1, 60) for _ in range(QUERIES)]
        out[score] = {f"r{k}": [100.0 * (r <= k) for r in ranks] for k in (1, 5, 10, 50)} | {"rank": ranks}
    return {"queries": list(range(QUERIES)), "per_query": out}


def write_item(results: Path, key, config_hash: str, metrics: dict, per_query: dict | None = None) -> None:
    run_id, seed, evaluation = key
    path = item_path(results, *key)
    path.parent.mkdir(parents=True, exist_ok=True)
    if evaluation == "train":
        content = {"config_hash": config_hash, "seed": seed, "dataset": "youcook2", "best_step": 20,
                   "tags": {"run_id": run_id, "seed": seed}, "val": {}, "test": metrics}
    else:
        content = {"config_hash": config_hash, "split": "test", "metrics": metrics}
    path.write_text(json.dumps({**content, **(per_query or {})}))


@pytest.fixture
def fabricated(profile_path, tmp_path):
    """Metrics files for every item; returns (results folder, item -> (config hash, metrics))."""
    profile = profiles.load_profile(profile_path)
    rng = random.Random(0)
    items = {key: (config_hash, fabricate_metrics(rng), fabricate_per_query(rng))
             for key, config_hash in fabricated_items(profile).items()}
    for (run_id, _, evaluation), (_, _, entry) in items.items():
        if run_id == TACO and evaluation == "train":   # fused 5 R@1 points below the later stage on every query
            values = entry["per_query"]
            values["early"] = values["token"] = {k: [0.0] * QUERIES for k in values["early"]}
            values["later"] = {**values["fused"], "r1": [v + 5 for v in values["fused"]["r1"]]}
    results = tmp_path / "results"
    for key, (config_hash, metrics, entry) in items.items():
        write_item(results, key, config_hash, metrics, entry)
    for probe in profiles.probe_jobs(profile):
        path = inputs.probe_file(results, probe)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"config_hash": profiles.probe_hash(profile, probe),
                                    "metrics": {"probe/t2v_r1": 4.25, "probe/t2v_r5": 11.0, "probe/t2v_mr": 20.5},
                                    **fabricate_per_query(rng, scores=("probe",))}))
    return results, items


def run_report(profile_path: Path, results: Path, out: Path, *extra: str) -> str:
    assert main(["report", "--profile", str(profile_path), "--runs", str(results / "runs"), "--out", str(out),
                 *extra]) == 0
    return (out / "README.md").read_text()


def table_row(markdown: str, section: str, *labels: str) -> list[str]:
    """The cells of the row starting with ``labels`` in the markdown table under heading ``section``."""
    body = markdown.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[:len(labels)] == list(labels):
            return cells
    raise AssertionError(f"no row {labels} under {section}")


def test_table_values_are_mean_and_sample_std_over_seeds(profile_path, fabricated, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")   # 2023-11-14
    results, items = fabricated
    run_report(profile_path, results, tmp_path / "reports")
    table3 = (tmp_path / "reports" / "table3.md").read_text()
    assert "Generated 2023-11-14 from commit" in table3 and "profile `smoke`" in table3
    assert SYNTHETIC_NOTE in table3
    run_id = "youcook2__r152+s3d_hm__v1__l1_l3_cascade"
    expected = []
    for metric in ("r1", "r5"):
        values = [items[(run_id, seed, "train")][1][f"fused/t2v_{metric}"] for seed in SEEDS]
        expected.append(f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}")
    cells = table_row(table3, "YouCook2", "L1+L3", "True")
    assert cells[2:6] == ["15.0", expected[0], "38.7", expected[1]]
    assert cells[-2:] == ["3", f"`{run_id}` (fused)"]
    # Table 12 reads the later score of the full-fusion evaluations.
    table12 = (tmp_path / "reports" / "table12.md").read_text()
    values = [items[(run_id, seed, "full_fusion")][1]["later/t2v_mr"] for seed in SEEDS]
    cells = table_row(table12, "YouCook2", "cascade_sampling")
    assert cells[8] == f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"
    # metrics.json: the mean of every reproduced cell.
    summary = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    values = [items[("youcook2__r152+s3d_hm__v1__taco", seed, "train")][1]["token/t2v_r10"] for seed in SEEDS]
    assert summary["table11"]["youcook2"]["score=token_level"]["r10"] == pytest.approx(statistics.mean(values))
    assert "msrvtt_split1" not in summary["table2"]   # not in this profile


def test_tables_from_files_equal_tables_from_mlflow(profile_path, fabricated, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from taco.tracking import Tracker, init_tracking_store

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    init_tracking_store()
    results, items = fabricated

    def log(key, config_hash, metrics, status="FINISHED"):
        run_id, seed, evaluation = key
        tracker = Tracker(None, {"seed": seed}, {"run_id": run_id, "seed": seed, "config_hash": config_hash},
                          job="train" if evaluation == "train" else "evaluate")
        tracker.start()
        tracker.log_metrics({f"test/{name}": value for name, value in metrics.items()}, step=20)
        tracker.finish(status)

    rng = random.Random(1)
    first = next(iter(items))
    log(first, items[first][0], fabricate_metrics(rng))                   # an earlier run of a config, rerun below
    log(first, "0123456789ab", fabricate_metrics(rng))                    # another configuration of the same run
    time.sleep(0.01)                                                      # later end times below
    for key, (config_hash, metrics, _) in items.items():
        log(key, config_hash, metrics)
    log(first, items[first][0], fabricate_metrics(rng), status="FAILED")  # a later rerun that failed

    run_report(profile_path, results, tmp_path / "from_files")
    readme = run_report(profile_path, results, tmp_path / "from_mlflow", "--from-mlflow")   # per-query: files
    assert f"{len(items)} of the {len(items)} results the tables read were found" in readme
    def written(folder: Path) -> list[str]:   # reports, html/, metrics/ and plots/
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())

    names = written(tmp_path / "from_files")
    assert names == written(tmp_path / "from_mlflow")
    for name in names:
        files, mlflow_side = ((tmp_path / d / name).read_bytes() for d in ("from_files", "from_mlflow"))
        if name.endswith((".md", ".html")):
            files, mlflow_side = (b.decode().replace("results read from MLflow", "results read from metrics files")
                                  for b in (files, mlflow_side))
        assert files == mlflow_side, name


def test_missing_and_stale_results_are_reported(profile_path, fabricated, tmp_path):
    results, items = fabricated
    gone = ("youcook2__r152+s3d_hm__v1__l1", 1, "train")
    item_path(results, *gone).unlink()
    stale = ("youcook2__r152+s3d_hm__v1__l1_l3_random", 2, "full_fusion")
    write_item(results, stale, "feedfacecafe", items[stale][1])
    readme = run_report(profile_path, results, tmp_path / "reports")
    assert "`youcook2__r152+s3d_hm__v1__l1` seed 1 (train): missing" in readme
    assert (f"`youcook2__r152+s3d_hm__v1__l1_l3_random` seed 2 (full_fusion): stale (config feedfacecafe, "
            f"expected {items[stale][0]})") in readme
    table3 = (tmp_path / "reports" / "table3.md").read_text()
    assert table_row(table3, "YouCook2", "L1", "n/a")[-2] == "2"       # two seeds left
    assert "`youcook2__r152+s3d_hm__v1__l1` seed 1 (train): missing" in table3.split("## Missing results")[1]
    # Nothing at all: every table still renders, every result is listed as missing.
    readme = run_report(profile_path, tmp_path / "empty", tmp_path / "empty_reports")
    assert f"0 of the {len(items)} results the tables read were found" in readme


def test_bad_result_file_is_named(profile_path, fabricated, tmp_path, capsys):
    results, items = fabricated
    key = next(iter(items))
    item_path(results, *key).write_text("{not json")
    assert main(["report", "--profile", str(profile_path), "--runs", str(results / "runs"),
                 "--out", str(tmp_path / "reports")]) == 2
    assert str(item_path(results, *key)) in capsys.readouterr().err
    item_path(results, *key).write_text(json.dumps({"config_hash": items[key][0]}))
    with pytest.raises(inputs.ReportError, match=r"metrics.json' has no 'test' key"):
        inputs.results_from_files({key: items[key][0]}, results)


def test_readme_indexes_every_report(profile_path, fabricated, tmp_path):
    results, items = fabricated
    for seed in SEEDS:   # training logs of the Table 3 runs: the training curves
        for setting in SETTINGS:
            run_id = f"youcook2__r152+s3d_hm__v1__{setting}"
            log = results / "runs" / run_id / f"seed{seed}" / items[(run_id, seed, "train")][0] / "train_log.jsonl"
            log.parent.mkdir()
            entries = [{"step": step, "loss": 5.0 / step + seed, "lr": 1e-4} for step in (1, 2, 3)]
            log.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    readme = run_report(profile_path, results, tmp_path / "reports")
    out = tmp_path / "reports"
    links = re.findall(r"\[([^\]]+)\]\(([^)]+)\)", readme)
    linked = {target for _, target in links}
    markdown = {p.name for p in out.glob("*.md")} - {"README.md"}
    assert markdown <= linked and all((out / target).is_file() for target in linked)
    assert {f"{name}.md" for name in experiments.REPORT_NAMES} <= markdown
    assert "training_curves.md" in markdown
    assert (out / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = (out / "training_curves.md").read_text()
    assert "| YouCook2 | taco | 3 | 2.667 ± 1.000 |" in curves   # last loss 5/3 + seed over seeds 0, 1, 2
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]   # no temporary file left


def test_text_statistics_and_figure4(tmp_path, profile_path, monkeypatch):
    from conftest import write_tiny_youcook2

    import taco.text.prepare

    root = write_tiny_youcook2(tmp_path / "youcook2")
    config = tmp_path / "text.yaml"
    config.write_text(yaml.safe_dump({"data": {"dataset": "youcook2", "root": str(root)},
                                      "cache_dir": str(tmp_path / "cache")}))
    out = tmp_path / "results" / "text_stats" / "youcook2.json"
    assert main(["text-stats", "--config", str(config), "--out", str(out), "--samples", "1000"]) == 0
    stats = json.loads(out.read_text())
    # A second job (as after the dataset's text job) reads the spaCy tags from the cache, to the same result.
    monkeypatch.setattr(taco.text.prepare, "tag_captions", lambda *a, **k: pytest.fail("tagged again"))
    again = tmp_path / "again.json"
    assert main(["text-stats", "--config", str(config), "--out", str(again), "--samples", "1000"]) == 0
    assert json.loads(again.read_text()) == stats
    from taco.data.retrieval import split_clips

    assert stats["captions"] == len(split_clips(config_module.load(config))["train"])
    curves = stats["idf_curves"]
    assert len(curves["noun"]) == stats["statistics"]["noun"] and len(curves["verb"]) == stats["statistics"]["verb"]
    for pos in ("noun", "verb"):
        idfs = [idf for _, idf in curves[pos]]
        assert idfs == sorted(idfs, reverse=True) and all(idf >= 0 for idf in idfs)
    run_report(profile_path, tmp_path / "results", tmp_path / "reports")
    assert (tmp_path / "reports" / "figure4.png").read_bytes()[:4] == b"\x89PNG"
    table10 = (tmp_path / "reports" / "table10.md").read_text()
    assert f"| youcook2 | 378 | {stats['statistics']['noun']} | 168 | {stats['statistics']['verb']} |" in table10


def test_reports_print_paired_verdicts_probe_rows_and_fused_below_stage(profile_path, fabricated, tmp_path):
    results, items = fabricated
    out = tmp_path / "reports"
    readme = run_report(profile_path, results, out)
    table3 = (out / "table3.md").read_text()
    assert verdicts.CLAIM_RULE in table3 and "Minimum detectable effect of this report" in table3
    # Table 3, L1+L3 (random) vs L1 alone: the interval printed is the paired bootstrap of the files' values.
    def side(run_id):
        return {seed: inputs.seed_queries(items[(run_id, seed, "train")][2], "fused") for seed in SEEDS}
    interval = paired_difference(side("youcook2__r152+s3d_hm__v1__l1_l3_random"), side("youcook2__r152+s3d_hm__v1__l1"),
                                 rsum_per_query)
    cells = verdicts.interval_cells(interval, comparison_verdict(interval))
    assert "| " + " | ".join(cells) + " |" in table3 and cells[1:3] == ["3", str(QUERIES)]
    # The probe row and its metrics.json key; every in-profile row is checked against it.
    assert table_row(table3, "YouCook2", "", "")[-1] == "probe (model-free): `youcook2__r152+s3d_hm`"
    assert table_row(table3, "YouCook2", "", "")[2:6] == ["—", "4.2", "—", "11.0"]   # 4.25 to one decimal
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["table3"]["youcook2"]["method=probe"] == {"r1": 4.25, "r5": 11.0, "mr": 20.5}
    assert summary["table2"]["youcook2"]["method=probe"]["r1"] == 4.25   # one feature type in this profile
    assert "## Against the model-free probe" in table3 and " rows beat the probe on YouCook2" in table3
    # Fused below its best stage: the taco run's fused R-sum is 5 below its later stage on every query.
    table11 = (out / "table11.md").read_text()
    fused_row = next(line for line in table11.splitlines() if line.startswith(f"| `{TACO}` |"))
    assert "| later " in fused_row and "| -5.0 [-5.0, -5.0] | 3 | 30 | 0.0 | not reproduced |" in fused_row
    assert "of 5 runs" in table11
    assert f"`{TACO}`" in readme.split("See [table11.md]")[0]
    assert "| comparisons | rows beating the probe |" in readme
    # Byte-identical reports for identical inputs.
    run_report(profile_path, results, tmp_path / "again")
    for path in (p for p in out.rglob("*") if p.is_file()):   # html/, metrics/ and plots/ too
        name = path.relative_to(out)
        assert path.read_bytes() == (tmp_path / "again" / name).read_bytes(), name


def test_probe_labels_tell_a_columns_probes_apart():
    paper_tables = inputs.load_paper_tables()
    results = inputs.Results("test")
    profile = profiles.load_profile(REPO / "params" / "default.yaml")
    probes = {probe: "missing" for probe in profiles.probe_jobs(profile)}
    table8 = tables.table_data("table8", paper_tables, profile, results, probes)
    keys = {column: [p.key() for p in rows] for column, rows in table8.probes.items()}
    assert keys["youcook2"] == ["protocol=zero_shot,method=probe", "protocol=finetuned,video=s3d_hm,method=probe",
                                "protocol=finetuned,video=r152+s3d_hm,method=probe"]
    assert keys["msrvtt"] == ["protocol=zero_shot,method=probe", "protocol=finetuned,method=probe"]
    table6 = tables.table_data("table6", paper_tables, profile, results, probes)
    assert [p.key() for p in table6.probes["msrvtt"]] == ["split=split2,method=probe", "split=split1,method=probe"]
    assert [p.probe.zero_shot for p in table8.probes["youcook2"]] == [True, False, False]


def test_probe_command_writes_the_runs_format(tmp_path):
    from conftest import write_tiny_youcook2

    write_tiny_youcook2(tmp_path / "data" / "youcook2")
    values = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    values["data"] = {**values["data"], "source": "synthetic", "root": str(tmp_path / "data")}
    profile_file = tmp_path / "profile.yaml"
    profile_file.write_text(yaml.safe_dump(values))
    probe = experiments.Probe("youcook2", "r152+s3d_hm")
    out = tmp_path / "results" / "probe" / f"{probe.id}.json"
    assert main(["probe", "--profile", str(profile_file), "--probe", probe.id, "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    profile = profiles.load_profile(profile_file)
    assert data["config_hash"] == profiles.probe_hash(profile, probe)
    from taco.data.retrieval import split_clips

    test = split_clips(profiles.probe_configs(profile, probe)[0])["test"]
    assert data["queries"] == list(range(len(test)))
    values = data["per_query"]["probe"]
    for k in ("r1", "r5", "r10"):
        assert statistics.mean(values[k]) == pytest.approx(data["metrics"][f"probe/t2v_{k}"], abs=1e-3)
    assert statistics.median(values["rank"]) == pytest.approx(data["metrics"]["probe/t2v_mr"], abs=1e-3)
    found = inputs.read_probes(profile, tmp_path / "results")
    assert found[probe].metrics["r1"] == data["metrics"]["probe/t2v_r1"]
    assert experiments.Probe.parse(probe.id) == probe
    assert experiments.Probe.parse("youcook2__s3d_hm__zero_shot") == experiments.Probe("youcook2", "s3d_hm", True)


def test_reports_flag_rows_below_their_validation_plateau(profile_path, fabricated, tmp_path):
    results, _ = fabricated
    sweep = tmp_path / "sweep.json"   # taco.sweep's record: L3 alone had no plateau, TACo had one at 50 steps
    sweep.write_text(json.dumps({"scratch": {
        "steps": None, "plateaus": {"youcook2__r152+s3d_hm__v1__l3_random": None, "youcook2__r152+s3d_hm__v1__taco": 50},
        "curves": {"youcook2__r152+s3d_hm__v1__l3_random": {"50": 40.0, "100": 60.0},
                   "youcook2__r152+s3d_hm__v1__taco": {"50": 90.0, "100": 91.0}}}}))
    values = yaml.safe_load(profile_path.read_text())
    flagged = tmp_path / "flagged.yaml"
    flagged.write_text(yaml.safe_dump({**values, "schedule_sweep": str(sweep)}))
    readme = run_report(flagged, results, tmp_path / "flagged")
    table3 = (tmp_path / "flagged" / "table3.md").read_text()
    steps = values["base"]["optim"]["iterations"]
    row = table_row(table3, "Below their validation plateau", "`l3_random` (scratch)")
    assert row[1:3] == ["`youcook2__r152+s3d_hm__v1__l3_random`", str(steps)]
    assert row[-1] == "`youcook2__r152+s3d_hm__v1__l3_random`"
    assert "[table3.md](table3.md)" in readme.split("Below their validation plateau", 1)[1].split("\n", 1)[0]
    plain = run_report(profile_path, results, tmp_path / "plain")
    assert "Below their validation plateau" not in plain + (tmp_path / "plain" / "table3.md").read_text()
