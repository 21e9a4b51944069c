# Reports: one markdown file per table and figure, its HTML (html/, what `snakemake --report` shows), the
# paper's numbers beside ours, metrics.json, one DVC metrics file per table (metrics/), the DVC plot data
# (plots/) and summary.json (the verdict counts printed at the end of a run). The default profile writes
# the committed reports/, any other profile results/<profile>/reports/ (taco.reports.targets).
import time

from taco.reports import targets as report_targets
from taco.reports.summary import SUMMARY_FILE, print_summary

REPORTS = report_targets.reports_dir(PROFILE)
REPORT_FIGURES = [f"{REPORTS}/{name}.png" for name in experiments.REPORT_FIGURES]
REPORT_FILES = [f"{REPORTS}/{f}" for f in report_targets.all_report_files() if f"{REPORTS}/{f}" not in REPORT_FIGURES]
REPORT_CODE = experiments.cli_dependencies("taco.reports.writer")
WORKFLOW_START = time.time()


def report_outputs(files):
    """``files`` of the reports folder, those the HTML report shows wrapped in report() with their caption."""
    outputs = []
    for file in files:
        entry = report_targets.report_entry(file)
        if entry is None:
            outputs.append(f"{REPORTS}/{file}")
        else:
            caption = f"../report/{entry.pop('caption')}"
            outputs.append(report(f"{REPORTS}/{file}", caption=caption, **entry))
    return outputs


rule effective_profile:
    """The params in force (profile and --config overrides), as the report command reads them."""
    output:
        f"{RESULTS}/profile.yaml",
    params:
        yaml=as_yaml(PROFILE),
    log:
        f"{LOGS}/effective_profile.log",
    benchmark:
        f"{BENCHMARKS}/effective_profile.tsv"
    localrule: True
    shell:
        WRITE_YAML


rule report:
    input:
        profile=f"{RESULTS}/profile.yaml",
        metrics=all_run_metrics(),
        evaluations=evaluation_files(),
        probes=probe_files(),
        sizes=experiments.MODEL_SIZES_PATH,
        text_stats=[experiments.text_stats_path(release) for release in TEXT_STATS_RELEASES],
        code=REPORT_CODE,
    output:
        # `snakemake --report report.html`: each report's HTML and figure with its caption, in the paper's order
        report_outputs(report_targets.all_report_files()),
    params:
        out=REPORTS,
    log:
        f"{LOGS}/report.log",
    benchmark:
        f"{BENCHMARKS}/report.tsv"
    shell:
        "{PYTHON:q} -m taco report --profile {input.profile:q} --runs {RESULTS}/runs --out {params.out:q} > {log:q} 2>&1"


# One target per table and figure (`snakemake table3`, ..., `figure3_report` for Figure 3): only the runs,
# evaluations and probes it reads, then its own report files (`--only`). `report` writes them all for `all`.
for _report_name in report_targets.TABLE_ORDER:

    rule:
        name:
            report_targets.target_name(_report_name)
        input:
            profile=f"{RESULTS}/profile.yaml",
            **report_targets.table_inputs(PROFILE, _report_name),
            code=REPORT_CODE,
        output:
            report_outputs(report_targets.report_files(_report_name)),
        params:
            out=REPORTS,
            only=_report_name,
        log:
            f"{LOGS}/report_{_report_name}.log",
        benchmark:
            f"{BENCHMARKS}/report_{_report_name}.tsv"
        shell:
            "{PYTHON:q} -m taco report --profile {input.profile:q} --runs {RESULTS}/runs --out {params.out:q}"
            " --only {params.only} > {log:q} 2>&1"

    workflow.ruleorder("report", report_targets.target_name(_report_name))


onsuccess:
    # the verdict counts, when a report job of this run wrote them
    summary = os.path.join(REPORTS, SUMMARY_FILE)
    if os.path.isfile(summary) and os.path.getmtime(summary) >= WORKFLOW_START:
        print_summary(REPORTS)
