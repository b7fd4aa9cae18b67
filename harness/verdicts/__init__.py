"""Verdicts: three-valued results with their evidence, the property protocol and discovery."""
