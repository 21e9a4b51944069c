# Reports: one markdown file per table and figure, its HTML (html/, what `snakemake --report` shows), the
# paper's numbers beside ours, metrics.json, one DVC metrics file per table (metrics/), the DVC plot data
# (plots/) and summary.json (the verdict counts printed at the end of a run). The default profile writes
# the committed reports/, any other profile results/<profile>/reports/ (taco.reports.targets).


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
        sizes=paths.MODEL_SIZES_PATH,
        text_stats=[paths.text_stats_path(release) for release in TEXT_STATS_RELEASES],
        sweep=PROFILE.get("schedule_sweep") or [],
        code=REPORT_CODE,
    output:
        # `snakemake --report report.html`: each report's HTML and figure with its caption, in the paper's order
        report_outputs(report_targets.all_report_files()),
    params:
        runs=lambda w, input: os.path.join(os.path.dirname(input.profile), "runs"),  # {RESULTS}/runs
        out=lambda w, output: reports_folder(output),
    log:
        f"{LOGS}/report.log",
    benchmark:
        f"{BENCHMARKS}/report.tsv"
    conda:
        SOFTWARE_ENV
    shell:
        "python -m taco report --profile {input.profile:q} --runs {params.runs:q} --out {params.out:q} > {log:q} 2>&1"


# One target per table and figure (`snakemake table3`, ..., `figure3_report` for Figure 3): only the runs,
# evaluations and probes it reads, then its own report files (`--only`). `report` writes them all for `all`.
for _report_name in report_targets.TABLE_ORDER:

    rule:
        name:
            report_targets.target_name(_report_name)
        input:
            profile=f"{RESULTS}/profile.yaml",
            **report_targets.table_inputs(PROFILE, _report_name),
            sweep=PROFILE.get("schedule_sweep") or [],
            code=REPORT_CODE,
        output:
            report_outputs(report_targets.report_files(_report_name)),
        params:
            runs=lambda w, input: os.path.join(os.path.dirname(input.profile), "runs"),
            out=lambda w, output: reports_folder(output),
            only=_report_name,
        log:
            f"{LOGS}/report_{_report_name}.log",
        benchmark:
            f"{BENCHMARKS}/report_{_report_name}.tsv"
        conda:
            SOFTWARE_ENV
        shell:
            "python -m taco report --profile {input.profile:q} --runs {params.runs:q} --out {params.out:q}"
            " --only {params.only} > {log:q} 2>&1"

    workflow.ruleorder("report", report_targets.target_name(_report_name))


onsuccess:
    # the verdict counts, when a report job of this run wrote them
    summary = os.path.join(REPORTS, SUMMARY_FILE)
    if os.path.isfile(summary) and os.path.getmtime(summary) >= WORKFLOW_START:
        print_summary(REPORTS)
