# The training grid: every run of every table (taco/experiments.py), once per seed.


def pretrained_metrics(wildcards):
    """A finetuned run waits for its pretraining run of the same seed (whose best.pt it starts from)."""
    pretrained = experiments.Run.parse(wildcards.run_id).pretrained
    return [experiments.run_metrics_path(pretrained.id, wildcards.seed)] if pretrained else []


rule train:
    """Train (or resume) one run and seed; metrics.json is copied out of the configuration's folder last."""
    input:
        config=experiments.config_path(experiments.config_name("{run_id}", "{seed}")),
        text=lambda w: experiments.text_marker_path(experiments.text_job(w.run_id)),
        data=lambda w: data_inputs(experiments.Run.parse(w.run_id).dataset),
        pretrained=pretrained_metrics,
        code=experiments.cli_dependencies("taco.train"),
    output:
        experiments.run_metrics_path("{run_id}", "{seed}"),
    params:
        config=lambda w: run_config(w).to_dict(),
        work_dir=run_work_dir,
        mlflow=MLFLOW_FLAG,
    log:
        f"{LOGS}/train/{{run_id}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/train/{{run_id}}/seed{{seed}}.tsv"
    resources:
        gpu=1,
    shell:
        "{PYTHON:q} -m taco train --config {input.config:q} --out {params.work_dir:q} --quiet {params.mlflow}"
        " > {log:q} 2>&1"
        " && cp {params.work_dir:q}/metrics.json {output:q}.tmp && mv {output:q}.tmp {output:q}"


rule train_all:
    """Target of the training stage (dvc.yaml)."""
    input:
        all_run_metrics(),
