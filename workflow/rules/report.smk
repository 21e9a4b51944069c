# Reports: one markdown file per table and figure under reports/, the paper's numbers beside ours,
# and reports/metrics.json (the retrieval metrics DVC shows with `dvc metrics show`).

REPORT_FILES = [
    "reports/README.md",
    *[f"reports/{name}.md" for name in experiments.REPORT_NAMES],
    "reports/metrics.json",
]
REPORT_FIGURES = [f"reports/{name}.png" for name in experiments.REPORT_FIGURES]


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
    conda:
        SOFTWARE_ENV
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
        code=experiments.cli_dependencies("taco.reports.writer"),
    output:
        # `snakemake --report reports/report.html` collects these with the run statistics and the DAG
        [report(path, category="Reports") for path in REPORT_FILES],
        [report(path, category="Figures") for path in REPORT_FIGURES],
    params:
        runs=lambda w, input: os.path.join(os.path.dirname(input.profile), "runs"),  # {RESULTS}/runs
    log:
        f"{LOGS}/report.log",
    benchmark:
        f"{BENCHMARKS}/report.tsv"
    conda:
        SOFTWARE_ENV
    shell:
        "python -m taco report --profile {input.profile:q} --runs {params.runs:q} --out reports > {log:q} 2>&1"
