"""The one exception type flowlaws raises for bad input.

Every message names the offending value and says what is allowed, in the spirit of Hypothesis's
``InvalidArgument``: the error surfaces where the object is built, not deep inside a run.
"""


class InvalidInput(ValueError):
    """A spec string, array, group or option that flowlaws cannot use, with what would be allowed."""
