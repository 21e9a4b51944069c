# Data: the synthetic world written in the real release formats, or the real releases (data.paths).

if PROFILE["data"]["source"] == "synthetic":

    rule synthetic_data:
        """Every dataset of the synthetic world under data.root (MANIFEST.json is written last)."""
        input:
            code=code_deps.code_dependencies("taco.data.synthetic.generate"),
        output:
            SYNTHETIC_MANIFEST,
        params:
            root=lambda w, output: os.path.dirname(output[0]),  # data.root, MANIFEST.json's folder
            profile=PROFILE["data"]["synthetic"]["profile"],
            seed=PROFILE["data"]["synthetic"]["seed"],
        log:
            f"{LOGS}/data/synthetic.log",
        benchmark:
            f"{BENCHMARKS}/data/synthetic.tsv"
        conda:
            SOFTWARE_ENV
        shell:
            "python -m taco.data.synthetic.generate --out {params.root:q} --profile {params.profile}"
            " --seed {params.seed} --no-progress > {log:q} 2>&1"


if profiles.extraction_jobs(PROFILE):

    rule extract_features:
        """Features of one type for every video of a real release: <release>/videos -> <release>/features/<type>.
        Per-video outputs are atomic, so an interrupted job resumes where it stopped."""
        input:
            code=code_deps.cli_dependencies("taco.features.extract"),
        output:
            paths.extraction_marker_path("{release}", "{feature_type}"),
        wildcard_constraints:
            release=one_of(sorted({r for r, _ in profiles.extraction_jobs(PROFILE)})),
            feature_type=one_of(sorted({t for _, t in profiles.extraction_jobs(PROFILE)})),
        params:
            root=lambda w: profiles.release_root(PROFILE, w.release),
            weights=lambda w: PROFILE["data"]["extract"]["weights"][w.feature_type],
            device=PROFILE["data"]["extract"].get("device", "cpu"),
            skip=" --skip-errors" if PROFILE["data"]["extract"].get("skip_errors") else "",
        log:
            f"{LOGS}/features/{{release}}__{{feature_type}}.log",
        benchmark:
            f"{BENCHMARKS}/features/{{release}}__{{feature_type}}.tsv"
        resources:
            gpu=1,
        conda:
            SOFTWARE_ENV
        shell:
            "python -m taco extract-features --videos {params.root:q}/videos --out {params.root:q}/features/{wildcards.feature_type}"
            " --type {wildcards.feature_type} --weights {params.weights:q} --device {params.device}{params.skip} > {log:q} 2>&1"
            " && cp {log:q} {output:q}"


rule data_all:
    """Target of the data stage (dvc.yaml)."""
    input:
        all_data_inputs(),
