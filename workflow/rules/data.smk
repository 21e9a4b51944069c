# Data: the synthetic world written in the real release formats, or the real releases (data.paths).

if PROFILE["data"]["source"] == "synthetic":

    rule synthetic_data:
        """Every dataset of the synthetic world under data.root (MANIFEST.json is written last)."""
        input:
            code=experiments.code_dependencies("taco.data.synthetic.generate"),
        output:
            SYNTHETIC_MANIFEST,
        params:
            root=PROFILE["data"]["root"],
            profile=PROFILE["data"]["synthetic"]["profile"],
            seed=PROFILE["data"]["synthetic"]["seed"],
        log:
            f"{LOGS}/data/synthetic.log",
        benchmark:
            f"{BENCHMARKS}/data/synthetic.tsv"
        shell:
            "{PYTHON:q} -m taco.data.synthetic.generate --out {params.root:q} --profile {params.profile}"
            " --seed {params.seed} --no-progress > {log:q} 2>&1"


rule data_all:
    """Target of the data stage (dvc.yaml)."""
    input:
        all_data_inputs(),
