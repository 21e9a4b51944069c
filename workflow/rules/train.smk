# The training grid: every run of every table (taco/experiments.py), each trained over the profile's
# seeds in one job (one process: imports and data are loaded once; the grid's runs fill the cores).


# One rule per seed list (outputs cannot depend on the run): `train` for the profile's seeds,
# `train_method_seeds` for the runs of the method-claim tables when the profile sets method_seeds.
for seeds, run_ids in profiles.runs_by_seeds(PROFILE).items():

    rule:
        """Train (or resume) one run over every seed; a killed job resumes each seed from its checkpoint."""
        name:
            "train" if list(seeds) == SEEDS else "train_method_seeds"
        wildcard_constraints:
            run_id=one_of(run_ids),
        input:
            configs=lambda w: [paths.config_path(paths.config_name(w.run_id, seed))
                               for seed in seeds_of(w.run_id)],
            text=lambda w: paths.text_marker_path(experiments.text_job(w.run_id)),
            data=lambda w: data_inputs(experiments.Run.parse(w.run_id).dataset),
            pretrained=pretrained_metrics,
            code=code_deps.cli_dependencies("taco.train"),
        output:
            [paths.run_metrics_path("{run_id}", seed) for seed in seeds],
        params:
            configs=lambda w: [profiles.run_config(PROFILE, w.run_id, seed).to_dict() for seed in seeds_of(w.run_id)],
            arguments=train_arguments,
            copy_out=copy_metrics,
            mlflow=MLFLOW_FLAG,
        log:
            f"{LOGS}/train/{{run_id}}.log",
        benchmark:
            f"{BENCHMARKS}/train/{{run_id}}.tsv"
        priority: train_priority
        threads: 1  # one compute thread per job (python -m taco); parallelism comes from running jobs side by side
        resources:
            gpu=1,
        conda:
            SOFTWARE_ENV
        shell:
            "python -m taco train {params.arguments} --quiet {params.mlflow} > {log:q} 2>&1 && {params.copy_out}"


rule train_all:
    """Target of the training stage (dvc.yaml)."""
    input:
        all_run_metrics(),
