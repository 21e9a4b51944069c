"""The embedded benchmark: a deterministic synthetic video world written in the real release formats.

``generate.generate(out_root, profile, seed)`` writes all six datasets (annotations and features);
``docs/synthetic_world.md`` describes what the world simulates and what it cannot tell us.
"""
