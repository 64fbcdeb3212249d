"""Suite-wide settings: deterministic property tests so CI runs are repeatable."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# derandomize: a fixed seed per test, so a red CI run reproduces on any machine.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
