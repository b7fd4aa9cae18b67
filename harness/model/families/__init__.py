"""The built-in network families, one module each, registered here in the strategies' simple-first order.

Shrinking goes toward the first family (``linear:1,1,1``), so the order is part of the behaviour: a new
family is one module and one entry at the end of the registration below.
"""

from harness.model.families.attention import AttentionNetwork
from harness.model.families.deep_linear import DeepLinearNetwork
from harness.model.families.linear import LinearNetwork
from harness.model.families.polynomial import PolynomialNetwork
from harness.model.family import register_family

for _family in (LinearNetwork, DeepLinearNetwork, PolynomialNetwork, AttentionNetwork):
    register_family(_family)
