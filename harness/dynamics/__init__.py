"""Dynamics: gradient flows, integration, the drift judge, leaf walks."""
