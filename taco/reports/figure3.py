"""Figure 3: the top retrieved test segments of sampled captions as the weight of the token-level score grows."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from taco import experiments, profiles
from taco.reports.inputs import read_json, result_path
from taco.reports.markdown import COLUMN_NAMES, ReportContext, document, markdown_table, report_title


def read_retrievals(profile: dict, results_dir: Path) -> dict[str, dict]:
    """column -> the retrieval file of its Figure 3 job, for the jobs that have run."""
    models = {run_id: seed for run_id, seed, evaluation in profiles.evaluations(profile) if evaluation == "figure3"}
    paths = {column: result_path(results_dir, cell.run.id, models[cell.run.id], "figure3")
             for row in experiments.TABLES["figure3"] for column, cell in row.cells.items() if cell.run.id in models}
    return {column: read_json(path) for column, path in paths.items() if path.is_file()}


def render_figure3(paper_tables: dict, context: ReportContext, retrievals: Mapping[str, dict]) -> str:
    blocks = [context.header(report_title("figure3", paper_tables)),
              "Top retrieved test segments (their first caption) for test captions drawn at random, as the weight "
              "of the token-level score grows; ✓ marks the query's own segment."]
    if not retrievals:
        blocks.append("No retrieval file found: the Figure 3 jobs have not run.")
    for column, data in retrievals.items():
        weights = [str(w) for w in data["token_weights"]]
        for query in data["queries"]:
            ranked = {w: data["retrievals"][w][query] for w in weights}
            body = [[rank + 1, *[("✓ " if ranked[w][rank]["correct"] else "") + ranked[w][rank]["captions"][0]
                                 for w in weights]] for rank in range(min(len(v) for v in ranked.values()))]
            hits = [sum(item["correct"] for item in ranked[w]) for w in weights]
            blocks += [f"## {COLUMN_NAMES.get(column, column)}: \"{query}\"",
                       markdown_table(["rank", *[f"token weight {w}" for w in weights]], body),
                       "Own segment in the top list: " + ", ".join(f"{w}: {h}" for w, h in zip(weights, hits))]
    return document(*blocks)
