"""Exact and numerical algebra: the prime field, the spectral gap, jets, sparse polynomials."""
