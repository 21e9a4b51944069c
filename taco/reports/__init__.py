"""Reports: every table and figure of the paper as markdown under ``reports/``, ours beside the published
numbers. ``writer.write_reports`` is the entry point of ``python -m taco report``."""
