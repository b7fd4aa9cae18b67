"""Testing: Hypothesis profiles and the pytest plugin."""
