"""The report's PNG figures (matplotlib, Agg; no timestamp in the file, so reruns are byte-identical)."""
from __future__ import annotations

import io
from collections.abc import Mapping

from taco.metrics import summarize_over_seeds
from taco.reports.curves import Curves
from taco.reports.markdown import COLUMN_NAMES
from taco.reports.text_stats import IDF_DATASETS
from taco.reports.transfer import FIGURE2_COLUMNS, FIGURE2_METRIC, SCORE_LABELS, Figure2, seed_summary


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png_bytes(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(figure)
    return buffer.getvalue()


def no_data_png(message: str) -> bytes:
    """A figure saying what is missing: every figure file exists, so the workflow can declare it."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(6, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return _png_bytes(figure)


def figure4_png(text_stats: Mapping[str, dict]) -> bytes:
    """IDF of the sampled nouns and verbs of each dataset, from rare to frequent (paper Figure 4)."""
    plt = _pyplot()
    datasets = [d for d in IDF_DATASETS if d in text_stats]
    figure, axes = plt.subplots(len(datasets), 2, figsize=(13, 4 * len(datasets)), squeeze=False, layout="constrained")
    for axes_row, dataset in zip(axes, datasets):
        for ax, pos in zip(axes_row, ("noun", "verb")):
            curve = text_stats[dataset]["idf_curves"][pos]
            ax.bar(range(len(curve)), [idf for _, idf in curve], color="tab:blue" if pos == "noun" else "tab:orange")
            ax.set_xticks(range(len(curve)), [word for word, _ in curve], rotation=90, fontsize=7)
            ax.set_title(f"{COLUMN_NAMES.get(dataset, dataset)}: {pos}s (rare → frequent)")
            ax.set_ylabel("idf (Eq. 7)")
    return _png_bytes(figure)


def training_curves_png(curves: Curves) -> bytes:
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(curves), figsize=(6.5 * len(curves), 4), squeeze=False, layout="constrained")
    for ax, (column, settings) in zip(axes[0], curves.items()):
        for label, by_step in settings.items():
            steps = sorted(by_step)
            stats = [summarize_over_seeds(by_step[s]) for s in steps]
            means = [m for m, _ in stats]
            ax.plot(steps, means, label=label, linewidth=1)
            ax.fill_between(steps, [m - s for m, s in stats], [m + s for m, s in stats], alpha=0.2)
        ax.set_title(COLUMN_NAMES.get(column, column))
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (mean ± std over seeds)")
        ax.legend(fontsize=8)
    return _png_bytes(figure)


def figure2_png(data: Figure2) -> bytes:
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(FIGURE2_COLUMNS), figsize=(6 * len(FIGURE2_COLUMNS), 3.8), squeeze=False,
                                layout="constrained")
    for ax, column in zip(axes[0], FIGURE2_COLUMNS):
        labels, means, stds = [], [], []
        for setting, cells in data.items():
            summary = seed_summary(cells[column], FIGURE2_METRIC)
            labels.append(f"{SCORE_LABELS[setting]}\n{setting}")
            means.append(summary.mean if summary else 0.0)
            stds.append(summary.std if summary else 0.0)
        ax.bar(range(len(labels)), means, yerr=stds, capsize=4, color="tab:blue")
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_ylabel("zero-shot R@1+R@5+R@10 (mean ± std over seeds)")
        ax.set_title(f"{COLUMN_NAMES.get(column, column)} zero-shot")
    return _png_bytes(figure)
