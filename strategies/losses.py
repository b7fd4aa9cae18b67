"""Hypothesis strategy for losses ℓ(f, y) by theorem class, valid for a given network and group.

A loss fits a network when its targets do: labels ±1 (logistic, exp) need a scalar output per row, m = 1;
probability targets (cross-entropy) need m >= 2 classes, and, when a group is given, output actions that
map probability vectors to probability vectors (ρ_out(g) a permutation matrix without signs), since
augmentation applies ρ_out to the targets. Every class keeps at least one loss for every network and group
(mse, quartic, logcosh, huber take real targets), so a class never comes up empty.

Classes are drawn first (in ``LOSS_CLASSES`` order, quadratic first), then a loss within the class in
registry order: shrinking goes toward ``mse``.
"""

from __future__ import annotations

from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from harness.errors import InvalidInput
from harness.model.family import Network
from harness.model.groups import parse_group
from harness.model.losses import LOSS_CLASSES, LOSSES, Loss, TargetDomain
from strategies.groups import check_network_argument
from strategies.networks import check_choices, draw_labelled


def keeps_probability_vectors(group_spec) -> bool:
    """Whether every ρ_out(g) of the group maps probability vectors to probability vectors.

    Read from the spec: output ``trivial`` always does; ``same`` does for plain permutations (no sign
    flips; the kind's catalogue record says which); ``sign`` multiplies targets by −1 for some generator of
    every catalogue kind but rot (decided conservatively: never).
    """
    if group_spec is None:
        return True
    for factor in parse_group(group_spec).factors:
        if factor.output == "trivial":
            continue
        if factor.output == "same" and factor.kind.is_plain_permutation(factor.args):
            continue
        return False
    return True


def loss_fits(loss: Loss, network: Network | None, group_spec=None) -> bool:
    """Whether ``loss``'s targets suit ``network`` (m per row) and survive the group's output action."""
    if network is not None and not loss.targets.fits(network.n_outputs):
        return False
    return loss.targets is not TargetDomain.PROBABILITIES or keeps_probability_vectors(group_spec)


def fitting_losses(loss_class: str, network: Network | None = None, group_spec=None) -> tuple[str, ...]:
    """Names of the registered losses of ``loss_class`` that fit ``network`` and ``group_spec``."""
    return tuple(
        name for name, loss in LOSSES.items() if loss.loss_class == loss_class and loss_fits(loss, network, group_spec)
    )


def draw_loss(draw, classes: tuple[str, ...], network: Network | None = None, group_spec=None) -> str:
    """A loss name: first its class (from ``classes``, which the caller checked non-empty), then the loss."""
    choices = [c for c in classes if fitting_losses(c, network, group_spec)]
    loss_class = draw_labelled(draw, st.sampled_from(choices), "loss class")
    name = draw_labelled(draw, st.sampled_from(fitting_losses(loss_class, network, group_spec)), "loss")
    event(f"loss class: {loss_class}")
    note(f"loss: {name}")
    return name


@st.composite
def _losses(draw, classes: tuple[str, ...], network: Network | None, group_spec) -> str:
    return draw_loss(draw, classes, network, group_spec)


def losses(kind=None, *, network=None, group=None) -> st.SearchStrategy[str]:
    """Registered loss names of the class(es) ``kind`` (None: all of ``LOSS_CLASSES``).

    With ``network``, only losses whose targets suit its m outputs per row; with ``group`` (a spec, needs
    ``network``), only losses whose targets survive the group's output action. Shrinks toward ``mse``
    (or the first loss of the first class asked for).
    """
    function = "losses"
    classes = LOSS_CLASSES if kind is None else check_choices(function, "kind", kind, LOSS_CLASSES)
    classes = tuple(c for c in LOSS_CLASSES if c in classes)
    if network is not None:
        network = check_network_argument(function, network)
    if group is not None:
        if network is None:
            raise InvalidArgument(f"losses(group={group!r}): a group needs the network it acts on (pass network=...)")
        try:
            group = str(parse_group(group))
        except InvalidInput as error:
            raise InvalidArgument(f"losses(group={group!r}): {error}") from None
    # Never true today (every class has a loss with real targets); kept so a new registry entry cannot
    # silently produce an empty strategy.
    if not any(fitting_losses(c, network, group) for c in classes):
        raise InvalidArgument(f"losses(kind={kind!r}, network={str(network)!r}): no loss of these classes fits")
    return _losses(classes, network, group)


__all__ = ["draw_loss", "fitting_losses", "keeps_probability_vectors", "loss_fits", "losses"]
