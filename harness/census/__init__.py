"""``flowlaws census``: many set-ups counted in one sweep (grid.py), run resumably in parallel (runner.py), and
shown as tables, a heatmap and formula checks (output.py)."""
