"""Theorem-level properties, one module each (``prop_*.py``), collected by pytest and ``flowlaws run``."""
