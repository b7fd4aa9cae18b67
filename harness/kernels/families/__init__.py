"""Dense compiled kernels of the network families: Φ(θ) and J(θ)ᵀ vec(G) from each family's matrix form."""
