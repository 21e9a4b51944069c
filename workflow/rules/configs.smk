# Resolved configs: the config of every run and seed, text job and statistics job, each in its own
# YAML file (results/configs) that the text and training jobs read.


rule resolved_config:
    """The resolved config of a run and seed, a text job or a statistics job; its params trigger reruns
    on a change. Written by the shell (no Python start-up per config), through a temporary file."""
    output:
        paths.config_path("{config_name}"),
    params:
        yaml=lambda w: as_yaml(profiles.resolved_config(PROFILE, w.config_name).to_dict()),
    log:
        f"{LOGS}/configs/{{config_name}}.log",
    benchmark:
        f"{BENCHMARKS}/configs/{{config_name}}.tsv"
    localrule: True
    conda:
        SOFTWARE_ENV
    shell:
        WRITE_YAML
