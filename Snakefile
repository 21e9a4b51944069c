# The TACo reproduction: every table and figure of the paper, regenerated under reports/.
#   snakemake --cores all                                  # embedded synthetic benchmark (params/default.yaml)
#   snakemake --cores all --configfile params/smoke.yaml   # tiny end-to-end check
#   snakemake --workflow-profile workflow/profiles/slurm --configfile params/paper.yaml
# Rules only wire files to `python -m taco ...` commands; the grid lives in taco/experiments.py.
import shlex

from snakemake.utils import min_version

min_version("8.0")


configfile: "params/default.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/configs.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/text.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        REPORT_FILES,
        REPORT_FIGURES,


onstart:
    if PROFILE["tracking"]["mlflow"]:
        # A fresh SQLite store cannot be created by parallel jobs: create it once, before any job.
        # Its experiment is the profile's (taco-<profile>, the description as its note).
        shell(f"python -m taco init-tracking --profile {shlex.quote(str(workflow.configfiles[-1]))}")
