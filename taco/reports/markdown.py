"""Markdown building blocks shared by every report: tables, mean ± std cells and the provenance header."""
from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

COLUMN_NAMES = {"youcook2": "YouCook2", "msrvtt_split1": "MSR-VTT (split1)", "msrvtt": "MSR-VTT",
                "activitynet": "ActivityNet"}
SYNTHETIC_NOTE = ("These numbers come from the embedded synthetic benchmark, not the real datasets: compare "
                  "directions and claims with the paper, not absolute values.")


def format_mean_std(mean: float, std: float, n: int, digits: int = 1) -> str:
    """``mean ± std`` with ``digits`` decimals; a single seed has no spread and shows the mean only."""
    if n < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_paper(value: Any) -> str:
    return "—" if value is None else str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def document(*blocks: str) -> str:
    """Markdown blocks separated by blank lines (empty blocks dropped), ending with a newline."""
    return "\n\n".join(block.strip("\n") for block in blocks if block) + "\n"


@dataclass(frozen=True)
class ReportContext:
    """What every report's header states."""

    date: str
    commit: str
    profile_name: str
    profile_path: str
    synthetic: bool
    source: str

    def header(self, title: str) -> str:
        provenance = (f"Generated {self.date} from commit `{self.commit}` with profile `{self.profile_name}` "
                      f"(`{self.profile_path}`); results read from {self.source}.")
        return document(f"# {title}", provenance, f"> {SYNTHETIC_NOTE}" if self.synthetic else "")


def report_title(name: str, paper_tables: dict) -> str:
    """``Table 2: <published title>`` for a table or figure id of ``paper_tables.yaml``."""
    number = name.replace("table", "Table ").replace("figure", "Figure ")
    return f"{number}: {paper_tables[name]['title']}"


def report_date() -> str:
    """Today (UTC), or the date of ``SOURCE_DATE_EPOCH`` when set (reproducible reports)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch
              else datetime.datetime.now(datetime.timezone.utc))
    return moment.date().isoformat()
