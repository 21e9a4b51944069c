# Evaluation variants of trained runs: Table 12's later stage over all N x N pairs, zero-shot
# retrieval of the pretrained models (Table 8, Figure 2), Figure 3's retrievals per test-time token
# weight, CrossTask and COIN (Table 9), and model size / FLOPs (Tables 13, 14); the model-free probe
# beside every retrieval table.

# One rule per seed list (outputs cannot depend on the run), as for training: a job evaluates every
# seed of a run in one process (imports and the dataset loaded once).
for seeds, run_ids in profiles.runs_by_seeds(PROFILE).items():

    rule:
        """A run's test retrieval under other settings, every seed: all N x N fusion pairs, or another dataset (zero-shot)."""
        name:
            "evaluate_retrieval" if list(seeds) == SEEDS else "evaluate_retrieval_method_seeds"
        input:
            metrics=[paths.run_metrics_path("{run_id}", seed) for seed in seeds],
            data=evaluation_data,
            code=code_deps.cli_dependencies("taco.train", "taco.data.retrieval"),
        output:
            [paths.evaluation_path("{run_id}", seed, "{evaluation}") for seed in seeds],
        wildcard_constraints:
            run_id=one_of(run_ids),
            evaluation=one_of(e for e in experiments.RETRIEVAL_EVALUATIONS if e != "train"),
        params:
            runs=lambda w, output: " ".join(f"--run {shlex.quote(work_dir(w.run_id, seed))} --out {shlex.quote(out)}"
                                            for seed, out in zip(seeds_of(w.run_id), output)),
            overrides=lambda w: " ".join(f"--set {shlex.quote(o)}" for o in profiles.evaluation_overrides(PROFILE, w.evaluation)),
            mlflow=MLFLOW_FLAG,
        log:
            f"{LOGS}/evaluate/{{run_id}}/{{evaluation}}.log",
        benchmark:
            f"{BENCHMARKS}/evaluate/{{run_id}}/{{evaluation}}.tsv"
        conda:
            SOFTWARE_ENV
        shell:
            "python -m taco evaluate {params.runs} {params.overrides} --quiet {params.mlflow} > {log:q} 2>&1"


rule probe:
    """The model-free ridge probe on a table's test split and features (zero-shot: fitted on the pretraining corpus)."""
    input:
        # read for the probe's data settings only: those (config_hash) rerun it, not any profile edit
        profile=ancient(f"{RESULTS}/profile.yaml"),
        data=probe_data,
        code=code_deps.cli_dependencies("taco.data.synthetic.probe", "taco.profiles"),
    output:
        paths.probe_path("{probe}"),
    wildcard_constraints:
        probe=one_of(probe.id for probe in PROBES),
    params:
        config_hash=lambda w: profiles.probe_hash(PROFILE, experiments.Probe.parse(w.probe)),
    log:
        f"{LOGS}/probe/{{probe}}.log",
    benchmark:
        f"{BENCHMARKS}/probe/{{probe}}.tsv"
    conda:
        SOFTWARE_ENV
    shell:
        "python -m taco probe --profile {input.profile:q} --probe {wildcards.probe} --out {output:q} > {log:q} 2>&1"


rule figure3:
    input:
        metrics=paths.run_metrics_path("{run_id}", "{seed}"),
        code=code_deps.cli_dependencies("taco.train", "taco.data.retrieval", "taco.evaluate"),
    output:
        paths.evaluation_path("{run_id}", "{seed}", "figure3"),
    params:
        work_dir=run_work_dir,
        queries=PROFILE["figure3"]["queries"],
        draw_seed=PROFILE["figure3"]["seed"],  # also the training seed of the model shown (profiles.evaluations)
        top=PROFILE["figure3"]["top"],
        token_weights=" ".join(map(str, experiments.FIGURE3_TOKEN_WEIGHTS)),
    log:
        f"{LOGS}/evaluate/{{run_id}}/seed{{seed}}/figure3.log",
    benchmark:
        f"{BENCHMARKS}/evaluate/{{run_id}}/seed{{seed}}/figure3.tsv"
    conda:
        SOFTWARE_ENV
    shell:
        "python -m taco figure3 --run {params.work_dir:q} --queries {params.queries} --seed {params.draw_seed}"
        " --top {params.top} --token-weight {params.token_weights} --out {output:q} --quiet > {log:q} 2>&1"


rule crosstask:
    """Step localization recall of a pretrained run (Table 9); the draw of training videos uses the run's seed."""
    input:
        metrics=paths.run_metrics_path("{run_id}", "{seed}"),
        data=downstream_data("crosstask"),
        code=code_deps.cli_dependencies("taco.downstream.crosstask"),
    output:
        paths.evaluation_path("{run_id}", "{seed}", "crosstask"),
    params:
        work_dir=run_work_dir,
        root=downstream_root("crosstask"),
        train_per_task=PROFILE["downstream"]["crosstask"]["train_per_task"],
        mlflow=MLFLOW_FLAG,
    log:
        f"{LOGS}/evaluate/{{run_id}}/seed{{seed}}/crosstask.log",
    benchmark:
        f"{BENCHMARKS}/evaluate/{{run_id}}/seed{{seed}}/crosstask.tsv"
    conda:
        SOFTWARE_ENV
    shell:
        "python -m taco crosstask --run {params.work_dir:q} --root {params.root:q} --seed {wildcards.seed}"
        " --train-per-task {params.train_per_task} --out {output:q} --quiet {params.mlflow} > {log:q} 2>&1"


rule coin:
    """Action segmentation frame accuracy of a pretrained run's video encoder (Table 9), linear probe or finetuned."""
    input:
        metrics=paths.run_metrics_path("{run_id}", "{seed}"),
        data=downstream_data("coin"),
        code=code_deps.cli_dependencies("taco.downstream.coin"),
    output:
        paths.evaluation_path("{run_id}", "{seed}", "coin_{mode}"),
    wildcard_constraints:
        mode=one_of(experiments.COIN_MODES),
    params:
        work_dir=run_work_dir,
        root=downstream_root("coin"),
        iterations=PROFILE["downstream"]["coin"]["iterations"],   # scalars: a reordered params file changes nothing
        batch_size=PROFILE["downstream"]["coin"]["batch_size"],
        lr=PROFILE["downstream"]["coin"]["lr"],
        mlflow=MLFLOW_FLAG,
    log:
        f"{LOGS}/evaluate/{{run_id}}/seed{{seed}}/coin_{{mode}}.log",
    benchmark:
        f"{BENCHMARKS}/evaluate/{{run_id}}/seed{{seed}}/coin_{{mode}}.tsv"
    conda:
        SOFTWARE_ENV
    shell:
        "python -m taco coin --run {params.work_dir:q} --root {params.root:q} --mode {wildcards.mode}"
        " --seed {wildcards.seed} --iterations {params.iterations} --batch-size {params.batch_size}"
        " --lr {params.lr} --out {output:q} --quiet {params.mlflow} > {log:q} 2>&1"


rule model_size:
    """Parameters and FLOPs of our models (first seed; seeds share the architecture) and of the paper's."""
    input:
        metrics=[paths.run_metrics_path(run, SEEDS[0]) for run in SIZE_RUNS],
        code=code_deps.cli_dependencies("taco.experiments", "taco.train"),
    output:
        paths.MODEL_SIZES_PATH,
    params:
        runs=" ".join(f"--run {work_dir(run, SEEDS[0])}" for run in SIZE_RUNS),
        paper_video_layers=" ".join(map(str, experiments.PAPER_VIDEO_LAYERS)),
    log:
        f"{LOGS}/model_size.log",
    benchmark:
        f"{BENCHMARKS}/model_size.tsv"
    conda:
        SOFTWARE_ENV
    shell:
        "python -m taco model-size {params.runs} --paper-video-layers {params.paper_video_layers}"
        " --out {output:q} > {log:q} 2>&1"


rule evaluate_all:
    """Target of the evaluation stage (dvc.yaml)."""
    input:
        evaluation_files(),
        paths.MODEL_SIZES_PATH,
