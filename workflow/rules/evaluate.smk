# Evaluation variants of trained runs: Table 12's later stage over all N x N pairs, Figure 3's
# retrievals per test-time token weight, and model size / FLOPs (Tables 13, 14).


def evaluation_files():
    return [experiments.evaluation_path(run, seed, evaluation) for run, seed, evaluation in EVALUATIONS]


rule evaluate_full_fusion:
    input:
        metrics=experiments.run_metrics_path("{run_id}", "{seed}"),
        code=experiments.cli_dependencies("taco.train", "taco.data.retrieval"),
    output:
        experiments.evaluation_path("{run_id}", "{seed}", "full_fusion"),
    params:
        work_dir=run_work_dir,
        overrides=" ".join(f"--set {o}" for o in experiments.FULL_FUSION_OVERRIDES),
        mlflow=MLFLOW_FLAG,
    log:
        f"{LOGS}/evaluate/{{run_id}}/seed{{seed}}/full_fusion.log",
    benchmark:
        f"{BENCHMARKS}/evaluate/{{run_id}}/seed{{seed}}/full_fusion.tsv"
    shell:
        "{PYTHON:q} -m taco evaluate --run {params.work_dir:q} {params.overrides} --out {output:q} --quiet"
        " {params.mlflow} > {log:q} 2>&1"


rule figure3:
    input:
        metrics=experiments.run_metrics_path("{run_id}", "{seed}"),
        code=experiments.cli_dependencies("taco.train", "taco.data.retrieval", "taco.evaluate"),
    output:
        experiments.evaluation_path("{run_id}", "{seed}", "figure3"),
    params:
        work_dir=run_work_dir,
        queries=PROFILE["figure3"]["queries"],
        draw_seed=PROFILE["figure3"]["seed"],  # also the training seed of the model shown (experiments.evaluations)
        top=PROFILE["figure3"]["top"],
        token_weights=" ".join(map(str, experiments.FIGURE3_TOKEN_WEIGHTS)),
    log:
        f"{LOGS}/evaluate/{{run_id}}/seed{{seed}}/figure3.log",
    benchmark:
        f"{BENCHMARKS}/evaluate/{{run_id}}/seed{{seed}}/figure3.tsv"
    shell:
        "{PYTHON:q} -m taco figure3 --run {params.work_dir:q} --queries {params.queries} --seed {params.draw_seed}"
        " --top {params.top} --token-weight {params.token_weights} --out {output:q} --quiet > {log:q} 2>&1"


rule model_size:
    """Parameters and FLOPs of our models (first seed; seeds share the architecture) and of the paper's."""
    input:
        metrics=[experiments.run_metrics_path(run, SEEDS[0]) for run in SIZE_RUNS],
        code=experiments.cli_dependencies("taco.experiments", "taco.train"),
    output:
        experiments.MODEL_SIZES_PATH,
    params:
        runs=" ".join(f"--run {work_dir(run, SEEDS[0])}" for run in SIZE_RUNS),
        paper_video_layers=" ".join(map(str, experiments.PAPER_VIDEO_LAYERS)),
    log:
        f"{LOGS}/model_size.log",
    benchmark:
        f"{BENCHMARKS}/model_size.tsv"
    shell:
        "{PYTHON:q} -m taco model-size {params.runs} --paper-video-layers {params.paper_video_layers}"
        " --out {output:q} > {log:q} 2>&1"


rule evaluate_all:
    """Target of the evaluation stage (dvc.yaml)."""
    input:
        evaluation_files(),
        experiments.MODEL_SIZES_PATH,
