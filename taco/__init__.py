"""TACo: Token-aware Cascade Contrastive Learning for Video-Text Alignment (Yang, Bisk, Gao; ICCV 2021).

A reference reproduction. The package is importable without snakemake, dvc or mlflow.
"""
__version__ = "0.1.0"
