"""The report tools: HTML of each report, one DVC metrics file per table, plot data, the end-of-run
summary, single-table reports (--only), the reports folder of a profile and the workflow's declarations."""
from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

import pytest
import yaml

from taco import experiments, paths, profiles
from taco.reports import dvc_files, targets
from taco.reports.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, VERDICTS
from taco.reports.html import html_page, markdown_to_html
from taco.reports.summary import format_summary
from test_reports import fabricated, profile_path, run_report, table_row  # noqa: F401  (fixtures)

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------- HTML

def test_markdown_renderer_covers_the_subset_of_the_reports():
    text = ("# Table 3: losses\n\nGenerated from `abc|def` with **bold** and *reproduced*.\n\n> a note\n> going on\n\n"
            "## YouCook2\n\n| losses | R@1 ours |\n|---|---|\n| L1 | 8.6 ± 1.4 |\n| a \\| b | <x> |\n\n"
            "- one [link](table2.md)\n- two\n\n![Figure 2](figure2.png)\n")
    body = markdown_to_html(text, images={"figure2.png": b"\x89PNG"}, link=lambda t: t.replace(".md", ".html"))
    assert "<h1>Table 3: losses</h1>" in body and "<h2>YouCook2</h2>" in body
    assert "<code>abc|def</code>" in body and "<strong>bold</strong>" in body and "<em>reproduced</em>" in body
    assert "<blockquote><p>a note going on</p></blockquote>" in body
    assert "<thead><tr><th>losses</th><th>R@1 ours</th></tr></thead>" in body
    assert "<tr><td>L1</td><td>8.6 ± 1.4</td></tr>" in body
    assert "<tr><td>a | b</td><td>&lt;x&gt;</td></tr>" in body
    assert '<li>one <a href="table2.html">link</a></li>' in body and "<li>two</li>" in body
    assert '<img alt="Figure 2" src="data:image/png;base64,iVBORw==">' in body
    page = html_page(text)
    assert page.startswith("<!DOCTYPE html>") and "<title>Table 3: losses</title>" in page
    assert "http" not in page and "<script" not in page   # self-contained


def markdown_table_rows(markdown: str) -> list[list[str]]:
    """The cells of every table body row of a markdown report."""
    lines = markdown.splitlines()
    rows = []
    for i, line in enumerate(lines):
        if line.startswith("|") and not re.match(r"^\|(-+\|)+$", line) and not (
                i + 1 < len(lines) and re.match(r"^\|(-+\|)+$", lines[i + 1])):
            rows.append([c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])])
    return rows


@pytest.fixture
def reports(profile_path, fabricated, tmp_path):  # noqa: F811
    results, items = fabricated
    out = tmp_path / "reports"
    run_report(profile_path, results, out)
    return out, results, items


def test_every_report_has_a_self_contained_html_with_its_rows(reports):
    out, _, _ = reports
    for name in [*experiments.REPORT_NAMES, "README"]:
        markdown = (out / f"{name}.md").read_text()
        page = (out / "html" / f"{name}.html").read_text()
        assert "<script" not in page and 'src="http' not in page
        shown = [[html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td>(.*?)</td>", row)]
                 for row in re.findall(r"<tr>(.*?)</tr>", page)]
        for row in markdown_table_rows(markdown):
            plain = [re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", cell) for cell in row]      # a link shows its text
            plain = [re.sub(r"`|\*\*|(?<![\w*])\*(?=\w)|(?<=\w)\*(?![\w*])", "", cell) for cell in plain]
            assert plain in shown, (name, row)
    figure2 = (out / "html" / "figure2.html").read_text()
    assert 'src="data:image/png;base64,' in figure2      # the figure embedded
    assert '<a href="table3.html">' in (out / "html" / "README.html").read_text()


# --------------------------------------------------------------------------------------------- DVC metrics

def test_metrics_per_table_have_short_keys_and_the_markdown_values(reports):
    out, _, _ = reports
    table3 = json.loads((out / "metrics" / "table3.json").read_text())
    assert set(table3) == {"youcook2"}                        # the profile's only dataset
    assert set(table3["youcook2"]) == {"l1", "l3_random", "l1_l3_random", "l1_l3_cascade", "taco", "probe"}
    assert set(table3["youcook2"]["taco"]) == {"r1", "r5", "r10", "mr"}
    markdown = (out / "table3.md").read_text()
    for label, row in (("l1", ("L1", "n/a")), ("l1_l3_cascade", ("L1+L3", "True")), ("taco", ("L1+L2+L3", "True"))):
        cells = table_row(markdown, "YouCook2", *row)
        shown = [cells[3], cells[5], cells[7], cells[9]]      # R@1, R@5, R@10, MR ours
        assert [f"{table3['youcook2'][label][m]:.1f}" for m in ("r1", "r5", "r10", "mr")] == \
               [s.split(" ± ")[0] for s in shown]
    table13 = json.loads((out / "metrics" / "table13.json").read_text())
    assert "v1" in table13["youcook2"]
    table11 = json.loads((out / "metrics" / "table11.json").read_text())
    assert {"fused", "early_stage", "later_stage_only_model"} <= set(table11["youcook2"])
    table2 = json.loads((out / "metrics" / "table2.json").read_text())
    assert {"r152+s3d_hm/taco", "r152+s3d_hm/baseline", "probe"} == set(table2["youcook2"])   # one probe here
    for table in dvc_files.METRIC_TABLES:          # Table 9 and Figure 2 too, even without results
        assert (out / "metrics" / f"{table}.json").is_file(), table
    for values in (table3, table13, table11, table2):   # no `k=v,k=v` keys
        assert not any("=" in key or "," in key for column in values.values() for key in column)
    # metrics.json stays as it was, probe cells under method=probe
    assert "method=probe" in json.loads((out / "metrics.json").read_text())["table3"]["youcook2"]


def test_row_labels_are_unique_and_short():
    for table in (*dvc_files.METRIC_TABLES[:-2], "figure2"):
        labels = list(dvc_files.row_labels(table).values())
        assert len(set(labels)) == len(labels), (table, labels)
        assert all("=" not in label and "." not in label for label in labels), labels
    assert list(dvc_files.row_labels("table13").values()) == ["v0", "v1", "v2", "v4"]
    assert dvc_files.row_labels("table2")[1] == "r152/taco"


# --------------------------------------------------------------------------------------------- plots

def test_plot_data_match_the_dvc_yaml_declarations(reports):
    out, _, _ = reports
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    assert dvc["plots"] == dvc_files.dvc_plots()
    for plot in dvc["plots"]:
        (name, spec), = plot.items()
        (path, columns), = spec["y"].items()
        rows = list(csv.DictReader(io.StringIO((out / Path(path).relative_to("reports")).read_text())))
        header = (out / Path(path).relative_to("reports")).read_text().splitlines()[0].split(",")
        assert spec["x"] in header and set([columns] if isinstance(columns, str) else columns) <= set(header), name
    curves = list(csv.DictReader(io.StringIO((out / "plots" / "table3_val_curves.csv").read_text())))
    assert curves == []     # fabricated runs have no logs: a header only
    paper = list(csv.DictReader(io.StringIO((out / "plots" / "reproduced_vs_paper.csv").read_text())))
    row = next(r for r in paper if r["label"] == "table3/youcook2/taco/r1")
    assert float(row["paper"]) == 15.8
    assert float(row["ours"]) == json.loads((out / "metrics" / "table3.json").read_text())["youcook2"]["taco"]["r1"]


def test_curves_are_means_over_seeds_of_the_logs(tmp_path, profile_path):  # noqa: F811
    profile = profiles.load_profile(profile_path)
    cell = experiments.TABLES["table3"][4].cells["youcook2"]
    for seed, offset in ((0, 0.0), (1, 2.0), (2, 4.0)):
        run_dir = tmp_path / paths.run_work_dir(cell.run.id, seed,
                                                      profiles.run_config(profile, cell.run.id, seed).hash())
        run_dir.mkdir(parents=True)
        (run_dir / "val_log.jsonl").write_text("".join(
            json.dumps({"step": step, "fused/t2v_r1": 1 + offset, "fused/t2v_r5": 2.0, "fused/t2v_r10": 3.0}) + "\n"
            for step in (10, 20)))
        (run_dir / "train_log.jsonl").write_text(json.dumps({"step": 1, "loss": 1.0 + offset}) + "\n")
    files = dvc_files.table_curves("table3", profile, tmp_path / "results", {})
    val = list(csv.DictReader(io.StringIO(files["plots/table3_val_curves.csv"])))
    assert [r["step"] for r in val] == ["10", "20"] and float(val[0]["youcook2/taco"]) == 8.0   # 3 + 2 + 3
    assert val[0]["youcook2/l1"] == ""
    loss = list(csv.DictReader(io.StringIO(files["plots/table3_train_loss.csv"])))
    assert float(loss[0]["youcook2/taco"]) == 3.0


# --------------------------------------------------------------------------------------------- summary

def claim_verdicts(markdown: str) -> list[str]:
    """The verdict of each claim in a report's claims table (``| # | claim | ... | **verdict** |``)."""
    section = markdown.split("## Claim", 1)[1] if "## Claim" in markdown else ""
    return re.findall(r"^\| \d+ \|.*\| \*\*([a-z ]+)\*\* \|$", section, re.MULTILINE)


def test_summary_counts_equal_the_verdicts_of_the_markdown(reports, capsys):
    out, _, _ = reports
    summary = json.loads((out / "summary.json").read_text())
    assert summary["profile"] == "smoke"
    for table in ("table3", "table4", "table11", "table12", "table13"):
        verdicts = claim_verdicts((out / f"{table}.md").read_text())
        assert verdicts, table
        assert summary["tables"][table] == {v: verdicts.count(v) for v in VERDICTS}, table
    text = format_summary(out)
    counts = summary["tables"]["table3"]
    assert (f"table3   {counts[REPRODUCED]:>2} / {counts[NOT_REPRODUCED]:>2} / {counts[INCONCLUSIVE]:>2}"
            in text)
    assert str(out / "README.md") in text
    assert text.splitlines()[1].lstrip().startswith("table2")   # paper order
    assert format_summary(out / "nothing") is None


# --------------------------------------------------------------------------------------------- one table

def test_only_one_table_writes_only_its_files(profile_path, fabricated, tmp_path):  # noqa: F811
    results, _ = fabricated
    out = tmp_path / "only"
    from taco.cli import main
    assert main(["report", "--profile", str(profile_path), "--runs", str(results / "runs"), "--out", str(out),
                 "--only", "table3"]) == 0
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == sorted([*targets.report_files("table3"), "summary.json"])
    assert set(json.loads((out / "summary.json").read_text())["tables"]) == {"table3"}
    assert main(["report", "--profile", str(profile_path), "--runs", str(results / "runs"), "--out", str(out),
                 "--only", "figure2"]) == 0
    assert set(json.loads((out / "summary.json").read_text())["tables"]) == {"table3", "figure2"}
    assert (out / "figure2.png").is_file() and not (out / "README.md").exists()


def test_table_inputs_are_what_the_table_reads():
    profile = profiles.load_profile(REPO / "params" / "default.yaml")
    table3 = targets.table_inputs(profile, "table3")
    runs = {experiments.Run.parse(Path(p).parts[2]) for p in table3["metrics"]}
    assert runs == {cell.run for row in experiments.TABLES["table3"] for cell in row.cells.values()}
    assert table3["evaluations"] == [] and table3["sizes"] == [] and table3["text_stats"] == []
    assert sorted(table3["probes"]) == sorted(paths.probe_path(f"{d}__r152+s3d_hm")
                                              for d in ("youcook2", "msrvtt_split1"))
    table12 = targets.table_inputs(profile, "table12")
    assert table12["evaluations"] and all(p.endswith("/full_fusion.json") for p in table12["evaluations"])
    table8 = targets.table_inputs(profile, "table8")   # the finetuned runs' pretrained runs are read too
    assert paths.run_metrics_path("howto100m__s3d_hm__v4__taco", profile["seeds"][0]) in table8["metrics"]
    assert targets.table_inputs(profile, "table10")["text_stats"] and not targets.table_inputs(profile, "table10")["metrics"]
    assert targets.table_inputs(profile, "table14")["sizes"] == [paths.MODEL_SIZES_PATH]


# --------------------------------------------------------------------------------------------- workflow

def test_default_profile_writes_reports_and_others_their_own_folder():
    for name in ("default", "smoke", "paper"):
        profile = yaml.safe_load((REPO / "params" / f"{name}.yaml").read_text())
        expected = "reports" if name == "default" else f"results/{name}/reports"
        assert targets.reports_dir(profile) == expected


def test_report_smk_declares_captions_in_paper_order():
    order = [name for name in targets.TABLE_ORDER]
    assert order[:13] == [f"table{i}" for i in range(2, 15)] and order[13:16] == ["figure2", "figure3", "figure4"]
    shown = [f for f in targets.all_report_files() if targets.report_entry(f)]
    numbers = [targets.report_entry(f)["labels"]["no."] for f in shown]
    assert numbers == sorted(numbers)            # the label the HTML report sorts by follows the paper
    for file in shown:
        entry = targets.report_entry(file)
        assert (REPO / "workflow" / "report" / entry["caption"]).is_file(), file
        assert entry["category"] in targets.CATEGORIES.values()
    assert {f"html/{name}.html" for name in experiments.REPORT_NAMES} <= set(shown)
    rules = REPO / "workflow" / "rules"
    assert "report(f\"{REPORTS}/{file}\", caption=caption, **entry)" in (rules / "common.smk").read_text()
    assert "workflow.ruleorder(\"report\"" in (rules / "report.smk").read_text()


def test_dvc_declares_one_metrics_file_per_table_and_the_report_outs():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert stages["report"]["metrics"] == dvc_files.dvc_metrics()
    outs = {next(iter(out)) for out in stages["report"]["outs"]}
    assert outs == {f"reports/{f}" for f in targets.all_report_files() if not f.startswith("metrics/")}
