"""Building blocks the network families share: size checks, the Gram-difference laws, the hidden units' signed permutation."""

from __future__ import annotations

import numpy as np

from harness.errors import InvalidInput


def gram_difference(first: np.ndarray, second: np.ndarray) -> tuple[list, list, list]:
    """Upper-triangle entries of firstᵀfirst − secondᵀsecond, their scales and names (a ≤ b).

    The scale of entry (a, b) is ‖first_a‖‖first_b‖ + ‖second_a‖‖second_b‖ (columns), the size of the two
    terms whose difference the law is; drift is judged relative to it.
    """
    values, scales, index = [], [], []
    gram = first.T @ first - second.T @ second
    if not isinstance(first, np.ndarray) or first.dtype == object or second.dtype == object:
        norms_first = norms_second = None  # exact entries or torch tensors (law values for autograd): no scales
    else:
        norms_first = np.sqrt((first * first).sum(axis=0))
        norms_second = np.sqrt((second * second).sum(axis=0))
    for a in range(gram.shape[0]):
        for b in range(a, gram.shape[1]):
            values.append(gram[a, b])
            if norms_first is not None and norms_second is not None:
                scales.append(norms_first[a] * norms_first[b] + norms_second[a] * norms_second[b])
            index.append((a, b))
    return values, scales, index


def hidden_matrix(width: int, carrier: np.ndarray | None, splits: tuple[int, ...]) -> np.ndarray:
    """H = carrier[:b, :b] ⊕ I on a hidden layer of ``width`` units, b the largest split point ≤ width.

    A split point b is one where every element of the carrier is block diagonal (a subrepresentation on the
    first b coordinates, e.g. one plane of ``rot:N``), so that g ↦ H(g) is again a representation.
    """
    matrix = np.eye(width)
    fitting = [b for b in splits if b <= width]
    if carrier is not None and fitting:
        b = max(fitting)
        matrix[:b, :b] = carrier[:b, :b]
    return matrix


def positive(name: str, value: int, what: str, minimum: int = 1) -> int:
    """``value`` as an int if it is an integer >= ``minimum``, else ``InvalidInput`` naming it."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise InvalidInput(f"{what} {name}={value!r} must be an integer >= {minimum}")
    return int(value)
