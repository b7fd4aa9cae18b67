"""Hypothesis strategies for flowlaws scenarios (networks, groups, data sets, losses, θ, scenarios)."""
