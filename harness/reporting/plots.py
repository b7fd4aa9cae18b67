"""The two figures of a counterexample report, drawn from a verdict's evidence.

``drift.png``: the drift |h(θ(t)) − h(θ₀)| of each law along the flow against the integrator's own error
estimate: a true law stays at or below the error curve, a broken one climbs above it.
``spectrum.png``: the singular values σ₁ ≥ σ₂ ≥ … of the matrix whose rank decided (the Lie trace or the
stacked generator values), on a log scale, with the gap that set the rank marked.

Evidence conventions (the properties follow them):
``evidence["series"] = {"times": [...], "drift": {law name: [...]}, "error": [...]}`` and
``evidence["singular_values"] = [...]`` with ``evidence["gap"] = {"index": k, "ratio": r, "threshold": t}``.
Whatever is present is drawn; nothing else is assumed.
"""

from __future__ import annotations

import math
from pathlib import Path

DRIFT_FILE = "drift.png"
SPECTRUM_FILE = "spectrum.png"
# Drifts of exactly conserved laws are often exactly 0; a log axis needs a floor.
_LOG_FLOOR = 1e-18


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display; must precede the pyplot import
    import matplotlib.pyplot as plt

    return plt


def _finite_positive(values) -> list[float]:
    out = []
    for value in values:
        try:
            number = abs(float(value))
        except (TypeError, ValueError):
            number = math.nan
        out.append(max(number, _LOG_FLOOR) if math.isfinite(number) else math.nan)
    return out


def plot_drift(series: dict, path: str | Path, *, title: str = "") -> Path:
    """Draw |h(θ(t)) − h(θ₀)| per law against the integrator's error estimate over time t."""
    plt = _pyplot()
    times = [float(t) for t in series.get("times", [])]
    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    for name, drift in sorted((series.get("drift") or {}).items()):
        axes.plot(times[: len(drift)], _finite_positive(drift), label=f"drift of {name}")
    if series.get("error") is not None:
        error = series["error"]
        axes.plot(times[: len(error)], _finite_positive(error), "k--", label="integrator error estimate")
    axes.set_yscale("log")
    axes.set_xlabel("time t")
    axes.set_ylabel("|h(θ(t)) − h(θ₀)|")
    axes.set_title(title or "law drift against the integrator's error")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(figure)
    return Path(path)


def plot_spectrum(singular_values, path: str | Path, *, gap: dict | None = None, title: str = "") -> Path:
    """Draw the singular values σ_i on a log scale and mark the gap after index k that decided the rank."""
    plt = _pyplot()
    values = _finite_positive(singular_values)
    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    axes.semilogy(range(1, len(values) + 1), values, "o-", label="singular values")
    if gap and gap.get("index") is not None:
        index = int(gap["index"])
        label = f"gap after σ_{index}"
        if gap.get("ratio") is not None:
            label += f": ratio {float(gap['ratio']):.3g}"
        if gap.get("threshold") is not None:
            label += f" (threshold {float(gap['threshold']):.3g})"
        axes.axvline(index + 0.5, color="tab:red", linestyle="--", label=label)
    axes.set_xlabel("index i")
    axes.set_ylabel("σ_i")
    axes.set_title(title or "singular values and the gap that decided the rank")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(figure)
    return Path(path)


def plots_for_evidence(evidence: dict, folder: str | Path) -> list[str]:
    """Draw whichever figures the evidence supports into ``folder``; returns the file names written."""
    folder = Path(folder)
    written = []
    series = evidence.get("series")
    if isinstance(series, dict) and series.get("times") and series.get("drift"):
        plot_drift(series, folder / DRIFT_FILE)
        written.append(DRIFT_FILE)
    values = evidence.get("singular_values")
    if isinstance(values, list) and values:
        plot_spectrum(values, folder / SPECTRUM_FILE, gap=evidence.get("gap"))
        written.append(SPECTRUM_FILE)
    return written
