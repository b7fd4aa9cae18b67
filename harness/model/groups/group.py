"""Finite groups acting orthogonally on inputs and outputs (DESIGN.md §1, "Data symmetry").

A ``Group`` is the list of its elements (ρ_in(g), ρ_out(g)), closed from generator pairs by
``Group.from_generators``: exactly, as integer matrices, for signed permutations; up to a tolerance for float
actions such as rotations. The closure checks that the pairs form a consistent action: an element that is the
identity on inputs must be the identity on outputs (else ρ_out is not a function of ρ_in's group).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from harness.errors import InvalidInput
from harness.model.family import Network
from harness.model.groups.permutations import is_signed_permutation

if TYPE_CHECKING:
    from harness.model.torch_model import TorchModel

DEFAULT_ORDER_CAP = 5040
# Bytes of the element matrices (ρ_in(g), ρ_out(g)) a closure may hold: |G| · (in² + out²) · 8. Checked
# before enumeration for a single catalogue factor (whose order is known) and while closing a product.
DEFAULT_MAX_BYTES = 256 * 2**20


def element_bytes(input_dim: int, output_dim: int) -> int:
    return 8 * (input_dim * input_dim + output_dim * output_dim)


def check_caps(order_cap, max_bytes, spec: str) -> tuple[int, int]:
    for name, value in (("order_cap", order_cap), ("max_bytes", max_bytes)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InvalidInput(f"group {spec}: {name}={value!r} must be an integer >= 1")
    return int(order_cap), int(max_bytes)


def _generator_matrices(kind: str, matrices, spec: str) -> list[np.ndarray]:
    """The generators as float square matrices of one common size, or one ``InvalidInput`` saying why not."""
    if isinstance(matrices, np.ndarray) and matrices.ndim == 3:
        matrices = list(matrices)
    if isinstance(matrices, (str, bytes, np.ndarray)) or not hasattr(matrices, "__iter__"):
        raise InvalidInput(
            f"group {spec}: {kind} generators must be a list of square matrices, got {type(matrices).__name__}"
        )
    result = []
    for i, m in enumerate(matrices):
        try:
            array = np.asarray(m)
        except (ValueError, TypeError) as error:
            raise InvalidInput(f"group {spec}: {kind} generator {i} is not a numeric matrix ({error})") from None
        if array.dtype.kind not in "biuf":
            raise InvalidInput(
                f"group {spec}: {kind} generator {i} has entries of type {array.dtype}; need real numbers"
            )
        if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] == 0:
            raise InvalidInput(
                f"group {spec}: {kind} generator {i} has shape {array.shape}; need a non-empty square matrix"
            )
        if result and array.shape != result[0].shape:
            raise InvalidInput(
                f"group {spec}: {kind} generator {i} has shape {array.shape}; need {result[0].shape} like generator 0"
            )
        array = array.astype(float)
        if not np.all(np.isfinite(array)):
            raise InvalidInput(f"group {spec}: {kind} generator {i} has NaN or inf entries")
        result.append(array)
    return result


@dataclass(frozen=True, eq=False)
class Group:
    """A finite group as the list of its elements (ρ_in(g), ρ_out(g)), identity first."""

    spec: str
    inputs: tuple[np.ndarray, ...]
    outputs: tuple[np.ndarray, ...]
    exact: bool
    n_generators: int

    @property
    def order(self) -> int:
        return len(self.inputs)

    @property
    def input_dim(self) -> int:
        return self.inputs[0].shape[0]

    @property
    def output_dim(self) -> int:
        return self.outputs[0].shape[0]

    def __str__(self) -> str:
        return self.spec

    @classmethod
    def from_generators(
        cls,
        inputs,
        outputs,
        *,
        spec: str = "custom",
        order_cap: int = DEFAULT_ORDER_CAP,
        tol: float = 1e-9,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> "Group":
        """Close the generator pairs into a group, validating orthogonality and consistency.

        At most ``order_cap`` elements and ``max_bytes`` of element matrices are enumerated; a float action
        whose products come closer than the closure's resolution (1e−7) without being equal, e.g. a rotation
        by an angle that rounds to 0, is refused rather than merged into a smaller group.
        """
        order_cap, max_bytes = check_caps(order_cap, max_bytes, spec)
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not (0 < tol < 1e-3):
            raise InvalidInput(f"group {spec}: tol={tol!r} must be a number in (0, 1e-3)")
        inputs = _generator_matrices("input", inputs, spec)
        outputs = _generator_matrices("output", outputs, spec)
        if not inputs or len(inputs) != len(outputs):
            raise InvalidInput(
                f"group {spec}: need the same positive number of input and output generators, got {len(inputs)} "
                f"and {len(outputs)}"
            )
        for kind, mats in (("input", inputs), ("output", outputs)):
            for i, m in enumerate(mats):
                defect = np.abs(m.T @ m - np.eye(m.shape[0])).max()
                if defect > tol:
                    raise InvalidInput(
                        f"group {spec}: {kind} generator {i} is not orthogonal (max |ρᵀρ − I| = {defect:.3g}); "
                        "flowlaws needs orthogonal actions"
                    )
        exact = all(is_signed_permutation(m) for m in inputs + outputs)
        dtype = np.int64 if exact else float
        inputs = [m.astype(dtype) for m in inputs]
        outputs = [m.astype(dtype) for m in outputs]
        per_element = element_bytes(inputs[0].shape[0], outputs[0].shape[0])

        def key(matrix):
            return matrix.tobytes() if exact else (np.round(matrix, 7) + 0.0).tobytes()  # + 0.0 folds −0.0 into 0.0

        def product(a, b):
            # Signed permutations multiply exactly in float64 too, where BLAS is fast (int matmul is not).
            return np.rint(a.astype(float) @ b).astype(np.int64) if exact else a @ b

        identity_in = np.eye(inputs[0].shape[0], dtype=inputs[0].dtype)
        identity_out = np.eye(outputs[0].shape[0], dtype=outputs[0].dtype)
        elements = {key(identity_in): (identity_in, identity_out)}
        frontier = [(identity_in, identity_out)]
        while frontier:
            new_frontier = []
            for g_in, g_out in frontier:
                for s_in, s_out in zip(inputs, outputs):
                    h_in, h_out = product(s_in, g_in), product(s_out, g_out)
                    k = key(h_in)
                    if k in elements:
                        known_in, known_out = elements[k]
                        gap = np.abs(known_in - h_in).max()
                        if not exact and gap > 1e-9:
                            raise InvalidInput(
                                f"group {spec}: two elements differ by {gap:.1e} on inputs, below the closure's "
                                "resolution 1e-7 but not equal: a float generator this close to the identity (e.g. "
                                "rot:N with N very large) or of infinite order cannot be closed into a finite group"
                            )
                        if np.abs(known_out - h_out).max() > (0 if exact else 1e-7):
                            raise InvalidInput(
                                f"group {spec}: inconsistent action: a product of generators acts the same on inputs "
                                "but differently on outputs (a word that is the identity on inputs must be the "
                                "identity on outputs); check the output actions"
                            )
                        continue
                    if len(elements) >= order_cap:
                        raise InvalidInput(
                            f"group {spec}: more than {order_cap} elements (order cap); use a smaller group or "
                            "raise order_cap"
                        )
                    if (len(elements) + 1) * per_element > max_bytes:
                        raise InvalidInput(
                            f"group {spec}: more than {len(elements)} elements of {identity_in.shape[0]}×"
                            f"{identity_in.shape[0]} and {identity_out.shape[0]}×{identity_out.shape[0]} matrices "
                            f"would take more than max_bytes = {max_bytes / 2**20:,.0f} MiB; use a smaller group or "
                            "network, or raise max_bytes"
                        )
                    elements[k] = (h_in, h_out)
                    new_frontier.append((h_in, h_out))
            frontier = new_frontier
        ins, outs = zip(*elements.values())
        return cls(spec=spec, inputs=tuple(ins), outputs=tuple(outs), exact=exact, n_generators=len(inputs))

    def keeps_probability_vectors(self) -> bool:
        """Whether every ρ_out(g) maps probability vectors to probability vectors (is a permutation matrix).

        An orthogonal matrix with no negative entry is a permutation; a sign flip (``/sign`` with
        sign character −1, ``flip/same``) or a rotation of the outputs turns probability targets negative.
        """
        return all(bool((np.asarray(g, dtype=float) >= -1e-12).all()) for g in self.outputs)

    def reynolds(self, matrix: np.ndarray, left: str = "input", right: str | None = "input") -> np.ndarray:
        """The Reynolds average (1/|G|) Σ_g ρ_left(g) A ρ_right(g)ᵀ, projecting onto the equivariant maps."""
        mats = {"input": self.inputs, "output": self.outputs}
        if left not in mats or (right is not None and right not in mats):
            raise InvalidInput(
                f"reynolds(left={left!r}, right={right!r}): each side is 'input' or 'output' (right may be None)"
            )
        total = 0
        for i in range(self.order):
            term = mats[left][i] @ matrix
            if right is not None:
                term = term @ mats[right][i].T
            total = total + term
        return np.asarray(total / self.order)

    def check_network(self, network: Network | TorchModel) -> None:
        """Raise unless the group acts on ``network``'s input and output spaces."""
        if self.input_dim != network.input_dim or self.output_dim != network.output_dim:
            raise InvalidInput(
                f"group {self.spec} acts on R^{self.input_dim} → R^{self.output_dim}, but {network} has "
                f"{network.input_dim} inputs and {network.output_dim} outputs"
            )


__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_ORDER_CAP", "Group", "check_caps", "element_bytes"]
