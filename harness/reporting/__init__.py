"""Reporting: run folders, summaries, rendering, plots."""
