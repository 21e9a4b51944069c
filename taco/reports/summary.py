"""``summary.json`` beside the reports: per table, how many of the paper's claims were reproduced, not
reproduced or inconclusive; and the end-of-run summary the workflow prints from it."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from taco.reports.claims import INCONCLUSIVE, MISSING, NOT_REPRODUCED, REPRODUCED, VERDICTS, ClaimCheck

SUMMARY_FILE = "summary.json"


def verdict_summary(checks: Mapping[str, Sequence[ClaimCheck]]) -> dict[str, dict[str, int]]:
    """table -> verdict -> number of claims (every verdict, zeros included), for tables with claims."""
    return {table: {verdict: [c.verdict for c in table_checks].count(verdict) for verdict in VERDICTS}
            for table, table_checks in checks.items() if table_checks}


def summary_json(tables: Mapping[str, Mapping[str, int]], profile: str) -> str:
    return json.dumps({"profile": profile, "tables": dict(tables)}, indent=2) + "\n"


def update_summary(path: Path, tables: Mapping[str, Mapping[str, int]], profile: str) -> str:
    """The summary at ``path`` with the entries of ``tables`` replaced (a single-table report)."""
    known = {}
    if path.is_file():
        try:
            known = json.loads(path.read_text()).get("tables", {})
        except (json.JSONDecodeError, AttributeError):
            known = {}
    return summary_json({**known, **tables}, profile)


def _order(table: str) -> tuple[int, int]:
    digits = "".join(c for c in table if c.isdigit())
    return (table.startswith("figure"), int(digits) if digits else 0)


def format_summary(reports_dir: str | Path) -> str | None:
    """A few lines: per table the claims reproduced / not reproduced / inconclusive (and missing runs, if
    any), the totals and where the reports are; None when the report command has not written its summary."""
    folder = Path(reports_dir)
    path = folder / SUMMARY_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    tables = data.get("tables", {})
    lines = [f"Claims of the paper, profile '{data.get('profile', '?')}' "
             "(reproduced / not reproduced / inconclusive):"]
    totals = dict.fromkeys(VERDICTS, 0)
    for table in sorted(tables, key=_order):
        counts = tables[table]
        for verdict in VERDICTS:
            totals[verdict] += counts.get(verdict, 0)
        missing = f", {counts[MISSING]} missing runs" if counts.get(MISSING) else ""
        lines.append(f"  {table:<8} {counts.get(REPRODUCED, 0):>2} / {counts.get(NOT_REPRODUCED, 0):>2} / "
                     f"{counts.get(INCONCLUSIVE, 0):>2}{missing}")
    missing = f", {totals[MISSING]} missing runs" if totals[MISSING] else ""
    lines.append(f"  {'total':<8} {totals[REPRODUCED]:>2} / {totals[NOT_REPRODUCED]:>2} / "
                 f"{totals[INCONCLUSIVE]:>2}{missing}")
    index = folder / "README.md"
    lines.append(f"Reports: {index if index.is_file() else str(folder) + '/'} (HTML: {folder / 'html'}/, "
                 "or `snakemake --report report.html`)")
    return "\n".join(lines)


def print_summary(reports_dir: str | Path) -> bool:
    """Print the summary of ``reports_dir`` if the report command wrote one; whether it did."""
    text = format_summary(reports_dir)
    if text is not None:
        print(text)
    return text is not None
