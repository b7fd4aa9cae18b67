"""The two figures of a counterexample report, drawn from a verdict's evidence.

``drift.png``: the drift |h(θ(t)) − h(θ₀)| of each law along the flow against the integrator's own error
estimate: a true law stays at or below the error curve, a broken one climbs above it.
``spectrum.png``: the singular values σ₁ ≥ σ₂ ≥ … of the matrix whose rank decided (the Lie trace or the
stacked generator values), on a log scale, with the gap that set the rank marked.

The evidence is read through its typed records (``harness.verdicts.evidence``): a ``DriftSeries`` gives
``drift.png``, a ``Spectrum`` (with its ``Gap``) gives ``spectrum.png``. Whatever is present is drawn;
nothing else is assumed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

from harness.algebra.spectral import Gap
from harness.verdicts.evidence import DriftSeries, Spectrum

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


def plot_drift(series: DriftSeries, path: str | Path, *, title: str = "") -> Path:
    """Draw |h(θ(t)) − h(θ₀)| per law against the integrator's error estimate over time t."""
    plt = _pyplot()
    times = list(series.times)
    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    for name, drift in sorted(series.drift.items()):
        axes.plot(times[: len(drift)], _finite_positive(drift), label=f"drift of {name}")
    error = series.error  # every producer records the estimate (``DriftSeries.as_evidence``), possibly empty
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


def plot_spectrum(spectrum: Spectrum, path: str | Path, *, title: str = "") -> Path:
    """Draw the singular values σ_i on a log scale and mark the gap after index k that decided the rank."""
    plt = _pyplot()
    values = _finite_positive(spectrum.singular_values)
    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    axes.semilogy(range(1, len(values) + 1), values, "o-", label="singular values")
    gap: Gap | None = spectrum.gap
    decided = gap is not None and (gap.ratio is None or float(gap.ratio) >= float(gap.threshold))
    if gap is not None:
        label = f"{'gap' if decided else 'largest ratio, below the threshold,'} after σ_{gap.index}"
        if gap.ratio is not None:
            label += f": ratio {float(gap.ratio):.3g}"
        label += f" (threshold {float(gap.threshold):.3g})"
        color, line = ("tab:red", "--") if decided else ("tab:gray", ":")
        axes.axvline(gap.index + 0.5, label=label, color=color, linestyle=line)
    axes.set_xlabel("index i")
    axes.set_ylabel("σ_i")
    default = (
        "singular values and the gap that decided the rank"
        if decided
        else "singular values: no gap clear enough to decide the rank (undecided)"
    )
    axes.set_title(title or default)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(figure)
    return Path(path)


def plots_for_evidence(evidence: Mapping, folder: str | Path) -> list[str]:
    """Draw whichever figures the evidence supports into ``folder``; returns the file names written."""
    folder = Path(folder)
    written = []
    series = DriftSeries.from_evidence(evidence)
    if series is not None and series.drift:
        plot_drift(series, folder / DRIFT_FILE)
        written.append(DRIFT_FILE)
    spectrum = Spectrum.from_evidence(evidence)
    if spectrum is not None:
        plot_spectrum(spectrum, folder / SPECTRUM_FILE)
        written.append(SPECTRUM_FILE)
    return written
