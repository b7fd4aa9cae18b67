"""Random text into every spec parser and random JSON into ``replay``'s loader: nothing but ``InvalidInput``.

The text is drawn from tokens of the spec grammars (family and group names, ``k=``, ``/sign``, ``*``, digits,
over-long numbers, full-width and Arabic-Indic digits, ``1_0``, whitespace, control characters) so that the
random strings reach the parsers' deep paths, not just their first check. The JSON is either any nesting of
JSON values or a valid scenario record with one field deleted, replaced or added. Each example either parses
(and then round-trips) or raises ``InvalidInput``; any other exception fails the test.

Deterministic (``derandomize``) and 200 examples per test in the regular suite; the acceptance run takes
``FLOWLAWS_FUZZ_EXAMPLES=1000``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli.replay import load_stored
from harness.errors import InvalidInput
from harness.model.groups import build_group, parse_group
from harness.model.losses import get_loss
from harness.model.scenario import Scenario, read_record
from harness.model.specs import parse_network

EXAMPLES = int(os.environ.get("FLOWLAWS_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SMALL_ORDER_CAP = 256  # valid random groups stay cheap to close

TOKENS = (
    "linear",
    "deep-linear",
    "poly",
    "attention",
    "linear:",
    "poly:",
    "attention:",
    "deep-linear:",
    "n=",
    "d=",
    "dk=",
    "dv=",
    "k=",
    "mask=",
    "causal",
    "none",
    "decay=",
    "0.5",
    "1e-3",
    "nan",
    "inf",
    "flip",
    "cyclic",
    "dihedral",
    "swap:",
    "sym",
    "signperm",
    "rot:",
    "spm:",
    "tokens-cyclic",
    "tokens-sym",
    "/trivial",
    "/same",
    "/sign",
    "/",
    "*",
    ",",
    "=",
    ":",
    "-",
    ".",
    "_",
    "e",
    "0",
    "1",
    "2",
    "3",
    "4",
    "7",
    "12",
    "01",
    "1_0",
    "99999999999999999999",
    "999999999999999999",
    "３",
    "٣",
    "²",
    " ",
    "\t",
    "\n",
    "\x00",
    "é",
    "mse",
    "cross-entropy",
    "huber",
)
NUMBERS = ("0", "1", "2", "3", "4", "5", "-1", "01", "1_0", "３", "99999999999999999999", "70", "1000", "", "0.5")
KEYS = ("n", "d", "dk", "dv", "k", "mask", "decay", "x", "")
small = st.integers(1, 6).map(str)
numbers = st.one_of(small, small, small, st.sampled_from(NUMBERS))  # mostly valid, so that later rules are reached
items = st.one_of(
    numbers,
    numbers,
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), numbers | st.sampled_from(("causal", "none", "nan"))),
)
# Shaped like the grammars (FAMILY:ITEM,ITEM,… and NAME[:ARGS][/ACTION]*…) so that most draws get past the
# first checks and into the size, key and argument rules.
network_like = st.builds(
    lambda family, body, sep: family + sep + ",".join(body),
    st.sampled_from(("linear", "deep-linear", "poly", "attention", "mlp")),
    st.lists(items, min_size=2, max_size=6),
    st.sampled_from((":", ":", ":", "", "::")),
)
factor_like = st.builds(
    lambda name, args, action: name + (":" + ",".join(args) if args is not None else "") + action,
    st.sampled_from(
        ("flip", "cyclic", "dihedral", "swap", "sym", "signperm", "rot", "spm", "tokens-cyclic", "tokens-sym", "mirror")
    ),
    st.none() | st.lists(numbers, max_size=4),
    st.sampled_from(("", "/trivial", "/same", "/sign", "/", "/odd", "//sign")),
)
group_like = st.lists(factor_like, min_size=1, max_size=3).map("*".join)
sizes = st.one_of(small, small, st.sampled_from(("1000", "70", "3000", "0")))
valid_like = st.one_of(
    st.builds("linear:{},{},{}".format, sizes, sizes, sizes),
    st.builds("deep-linear:{}".format, st.lists(sizes, min_size=3, max_size=20).map(",".join)),
    st.builds("poly:{},{},{},k={}".format, sizes, sizes, sizes, sizes),
    st.builds(
        "attention:n={},d={},dk={},dv={}{}".format,
        sizes,
        sizes,
        sizes,
        sizes,
        st.sampled_from(("", ",mask=causal", ",mask=causal,decay=0.5", ",decay=0.5")),
    ),
)


@st.composite
def corrupted(draw, base):
    """A well-formed spec with up to two edits (a token inserted, a character deleted or replaced)."""
    text = draw(base)
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(("insert", "delete", "replace")))
        token = draw(st.sampled_from(TOKENS))
        if edit == "insert":
            text = text[:at] + token + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + token + text[at + 1 :]
    return text


spec_texts = st.one_of(
    corrupted(valid_like),
    corrupted(group_like),
    network_like,
    group_like,
    st.lists(st.sampled_from(TOKENS), max_size=14).map("".join),
    st.text(alphabet=st.sampled_from("0123456789,=:/*-._ ak３"), max_size=30),
    st.text(max_size=20),
)
NETWORKS = [parse_network(spec) for spec in ("linear:4,2,4", "linear:3,1,1", "attention:n=3,d=2,dk=1,dv=2")]


def parses_or_refuses(parse, text):
    try:
        return parse(text)
    except InvalidInput as error:
        assert str(error) and "\n" not in str(error)
        return None


@FUZZ
@given(spec_texts)
def test_network_specs(text):
    network = parses_or_refuses(parse_network, text)
    if network is not None:
        assert parse_network(str(network)) == network


@FUZZ
@given(spec_texts, st.sampled_from(NETWORKS))
def test_group_specs_parse_and_build(text, network):
    spec = parses_or_refuses(parse_group, text)
    if spec is not None:
        assert parse_group(str(spec)) == spec
        parses_or_refuses(lambda s: build_group(s, network, order_cap=SMALL_ORDER_CAP), text)


@FUZZ
@given(spec_texts)
def test_loss_names(text):
    parses_or_refuses(get_loss, text)


@FUZZ
@given(spec_texts, st.one_of(st.none(), spec_texts), spec_texts, st.sampled_from(["free", "augmented", "x"]))
def test_scenario_specs(network, group, loss, data):
    parses_or_refuses(lambda _: Scenario(network, loss, group, data), None)


# --- replay ------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
VALID = {
    **Scenario("linear:2,1,1", "mse", "flip/sign", "augmented", n_samples=2).with_arrays().to_dict(),
    "property": "planted-size",
}
FIELDS = sorted(VALID) + ["unknown"]


@st.composite
def mutated_records(draw):
    record = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(FIELDS))
        action = draw(st.sampled_from(["delete", "replace", "replace-array"]))
        if action == "delete":
            record.pop(key, None)
        elif action == "replace-array" and "arrays" in record and isinstance(record["arrays"], dict):
            name = draw(st.sampled_from(["x", "y", "theta0"]))
            record["arrays"][name] = draw(json_values)
        else:
            record[key] = draw(json_values | spec_texts)
    return record


_FOLDER = Path(tempfile.mkdtemp(prefix="flowlaws-fuzz-"))


def _replay_loads(content: bytes):
    path = _FOLDER / "scenario.json"
    path.write_bytes(content)
    return parses_or_refuses(load_stored, path)


@FUZZ
@given(json_values)
def test_replay_of_any_json(value):
    _replay_loads(json.dumps(value).encode())


@FUZZ
@given(mutated_records())
def test_replay_of_mutated_scenarios(record):
    loaded = _replay_loads(json.dumps(record).encode())
    if loaded is not None:
        _, scenario = loaded
        assert Scenario.from_dict(scenario.to_dict()) == scenario


@FUZZ
@given(st.binary(max_size=200) | spec_texts.map(str.encode))
def test_replay_of_any_bytes(content):
    path = _FOLDER / "bytes.json"
    path.write_bytes(content)
    parses_or_refuses(read_record, path)
