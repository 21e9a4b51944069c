"""Table 10 (distinct nouns, verbs and words of the training captions) and Figure 4 (idf, Eq. 7, of
sampled nouns and verbs): computed by ``python -m taco text-stats``, rendered by the report."""
from __future__ import annotations

from collections.abc import Mapping

from taco.config import RunConfig
from taco.reports.markdown import COLUMN_NAMES, ReportContext, document, markdown_table, report_title

IDF_DATASETS = ("youcook2", "msrvtt")
"""Figure 4's datasets; Table 10 also lists ActivityNet."""
IDF_SAMPLES = 30


def text_statistics(cfg: RunConfig, samples: int = IDF_SAMPLES) -> dict:
    """Table 10 counts and Figure 4 idf curves over the training captions of ``cfg``'s dataset. The spaCy
    tags come from the text cache when the dataset's text job has tagged its captions (else they are
    tagged and cached here)."""
    from taco.data.retrieval import split_clips
    from taco.text.idf import idf_curve, idf_table, token_statistics
    from taco.text.pos import is_token_of_interest
    from taco.text.prepare import cached_tags

    clips = split_clips(cfg)
    tags = cached_tags(sorted({clip.text for items in clips.values() for clip in items}), cfg.cache_dir)
    captions = [clip.text for clip in clips["train"]]
    tagged = [tags[caption] for caption in captions]
    idf = idf_table(tagged, "noun+verb")
    words = {pos: {w.lower for caption in tagged for w in caption if is_token_of_interest(w, pos)}
             for pos in ("noun", "verb")}
    return {"dataset": cfg.data.dataset, "root": cfg.data.root, "captions": len(captions),
            "statistics": token_statistics(tagged),
            "idf_curves": {pos: [[w, v] for w, v in idf_curve(idf, words[pos], samples)] for pos in ("noun", "verb")}}


def render_table10(paper_tables: dict, context: ReportContext, text_stats: Mapping[str, dict]) -> str:
    header = ["dataset", "noun paper", "noun ours", "verb paper", "verb ours", "all paper", "all ours",
              "training captions (ours)"]
    body = []
    for row in paper_tables["table10"]["rows"]:
        ours = text_stats.get(row["dataset"])
        stats = ours["statistics"] if ours else {}
        body.append([row["dataset"], row["noun"], stats.get("noun", "missing"), row["verb"],
                     stats.get("verb", "missing"), row["all"], stats.get("all", "missing"),
                     ours["captions"] if ours else "missing"])
    note = ("Distinct lowercased words tagged NOUN / VERB by spaCy (coarse tags), and distinct words of any tag, "
            "over each dataset's training captions.")
    return document(context.header(report_title("table10", paper_tables)), note, markdown_table(header, body))


def render_figure4(paper_tables: dict, context: ReportContext, text_stats: Mapping[str, dict]) -> str:
    header = context.header(report_title("figure4", paper_tables))
    datasets = [d for d in IDF_DATASETS if d in text_stats]
    if not datasets:
        return document(header, "No token statistics found: the text statistics jobs have not run.")
    words = [f"- {COLUMN_NAMES.get(dataset, dataset)} {pos}s: "
             + ", ".join(f"{w} ({idf:.2f})" for w, idf in text_stats[dataset]["idf_curves"][pos])
             for dataset in datasets for pos in ("noun", "verb")]
    return document(header, "![Figure 4](figure4.png)", "Sampled words and their idf (Eq. 7):", "\n".join(words))
