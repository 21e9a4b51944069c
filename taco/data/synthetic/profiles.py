"""Sizes of the synthetic datasets: "smoke" (tiny, for tests) and "default" (the embedded benchmark)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    cooking_tasks: int  # recipes in the world's task book (YouCook2, CrossTask, COIN and HowTo100M draw from it)
    youcook2_recipes: int
    youcook2_videos_per_recipe: int
    youcook2_validation_per_recipe: int
    msrvtt_videos: int
    msrvtt_test_videos: int  # JSFusion-style test videos, drawn from the official test split
    activitynet_train_videos: int
    activitynet_val_videos: int
    howto100m_videos: int
    crosstask_cooking_tasks: int
    crosstask_other_tasks: int
    crosstask_videos_per_task: int
    crosstask_validation_per_task: int
    coin_cooking_tasks: int
    coin_other_tasks: int
    coin_videos_per_task: int
    coin_test_per_task: int


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", cooking_tasks=12,
        youcook2_recipes=3, youcook2_videos_per_recipe=3, youcook2_validation_per_recipe=1,
        msrvtt_videos=40, msrvtt_test_videos=8,
        activitynet_train_videos=8, activitynet_val_videos=4,
        howto100m_videos=12,
        crosstask_cooking_tasks=2, crosstask_other_tasks=1, crosstask_videos_per_task=3,
        crosstask_validation_per_task=1,
        coin_cooking_tasks=2, coin_other_tasks=1, coin_videos_per_task=3, coin_test_per_task=1,
    ),
    "default": Profile(
        name="default", cooking_tasks=100,
        # Test sets of >= 1,000 text queries (YouCook2: 4 validation videos of each recipe, ~1,100 steps;
        # MSR-VTT: the 1,000 JSFusion videos), so paired comparisons resolve a few R-sum points.
        youcook2_recipes=38, youcook2_videos_per_recipe=13, youcook2_validation_per_recipe=4,
        msrvtt_videos=3400, msrvtt_test_videos=1000,
        activitynet_train_videos=500, activitynet_val_videos=200,
        howto100m_videos=1500,
        crosstask_cooking_tasks=13, crosstask_other_tasks=5, crosstask_videos_per_task=40,
        crosstask_validation_per_task=4,
        coin_cooking_tasks=20, coin_other_tasks=10, coin_videos_per_task=16, coin_test_per_task=4,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; an unknown name raises ValueError listing the known ones."""
    if name not in PROFILES:
        raise ValueError(f"unknown synthetic profile '{name}' (known: {', '.join(PROFILES)})")
    return PROFILES[name]
