# Text: POS tags, tokens of interest, IDF weights (Eq. 7) and cached text features, once per
# dataset and token type before the training jobs that share them start; caption statistics
# (Table 10, Figure 4) per release.


rule prepare_text:
    input:
        config=paths.config_path(paths.text_config_name("{text_job}")),
        first=text_predecessor,
        data=lambda w: data_inputs(experiments.text_job_dataset(w.text_job)),
        code=code_deps.cli_dependencies("taco.data.retrieval"),
    output:
        paths.text_marker_path("{text_job}"),
    params:
        config=lambda w: profiles.text_config(PROFILE, w.text_job).to_dict(),
    log:
        f"{LOGS}/text/{{text_job}}.log",
    benchmark:
        f"{BENCHMARKS}/text/{{text_job}}.tsv"
    priority: 20  # before any training job (train_priority): each waits for its dataset's text, pretraining too
    conda:
        SOFTWARE_ENV
    shell:
        "python -m taco prepare-text --config {input.config:q} > {output:q}.tmp 2> {log:q}"
        " && mv {output:q}.tmp {output:q}"


rule text_stats:
    input:
        config=paths.config_path(paths.stats_config_name("{release}")),
        tagged=tagged_text,
        data=lambda w: data_inputs(experiments.TEXT_STATS_DATASETS[w.release]),
        code=code_deps.cli_dependencies("taco.reports.text_stats"),
    output:
        paths.text_stats_path("{release}"),
    params:
        config=lambda w: profiles.stats_config(PROFILE, w.release).to_dict(),
    log:
        f"{LOGS}/text_stats/{{release}}.log",
    benchmark:
        f"{BENCHMARKS}/text_stats/{{release}}.tsv"
    conda:
        SOFTWARE_ENV
    shell:
        "python -m taco text-stats --config {input.config:q} --out {output:q} > {log:q} 2>&1"


rule text_all:
    """Target of the text stage (dvc.yaml)."""
    input:
        text_files(),
