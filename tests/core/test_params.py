"""scikit-learn conventions: every registered operation and gate stores its constructor
parameters as given, so ``sklearn.base.clone`` rebuilds an equal component."""

import pytest
from sklearn.base import clone

from zhaug.augment import ops  # noqa: F401  (registers the operations)
from zhaug.augment.base import OPERATIONS
from zhaug.augment.compose import OneOf, PerSentence, Sequential, Sometimes
from zhaug.augment.gates.base import GATES, Candidate
from zhaug.augment.ops import CharSwap, SynonymSwap
from zhaug.errors import ZhaugError
from zhaug.io import Record
from zhaug.params import Parameters
from zhaug.specs import build, parse_spec

TEXT = "这家酒店的服务非常好，房间也很干净，下次还会再来。价格是三百元一晚。"
NEEDS = {"teacher": {"model": "a-run-folder"}}
MODEL_OPS = {"back_translate", "paraphrase"}  # load translation or chat models on first use; cloned, not applied
MODEL_GATES = {"similarity", "teacher", "fluency"}  # fluency: builds its LM on first use


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_operation_clones_to_an_equal_one(name):
    op = OPERATIONS[name]()
    twin = clone(op)
    assert type(twin) is type(op) and twin is not op
    assert twin.get_params() == op.get_params()
    if name not in MODEL_OPS | {"nlpaug"}:
        assert [twin.augment(TEXT, seed=s) for s in range(3)] == [op.augment(TEXT, seed=s) for s in range(3)]


@pytest.mark.parametrize("name", sorted(GATES))
def test_every_gate_clones_to_an_equal_one(name):
    gate = GATES[name](**NEEDS.get(name, {}))
    twin = clone(gate)
    assert type(twin) is type(gate) and twin.get_params() == gate.get_params()
    if name not in MODEL_GATES:
        parent = Record("r0", TEXT, "1")
        candidates = [Candidate(parent, TEXT.replace("非常", "很"), "x", 0), Candidate(parent, TEXT, "x", 1)]
        for g in (gate, twin):
            g.prepare([parent])
        assert twin.reasons(candidates) == gate.reasons(candidates)


def test_composites_clone_with_their_parts():
    tree = OneOf([Sequential([SynonymSwap(rate=0.2), CharSwap()]), Sometimes(CharSwap(), p=0.3),
                  PerSentence(SynonymSwap(), k=1)], weights=[2, 1, 1])
    twin = clone(tree)
    assert twin.spec() == tree.spec() and twin.ops[0] is not tree.ops[0]
    assert [twin.augment(TEXT, seed=s) for s in range(5)] == [tree.augment(TEXT, seed=s) for s in range(5)]


def test_parameters_are_strict():
    class Forgetful(Parameters):
        def __init__(self, rate=0.1):
            self.other = rate

    with pytest.raises(AttributeError, match="does not store its parameters"):
        Forgetful().get_params()
    with pytest.raises(ValueError, match="no parameters"):
        SynonymSwap().set_params(speed=3)
    assert SynonymSwap().set_params(rate=0.3).rate == 0.3


def test_specs_are_parsed_and_built_in_one_way():
    assert parse_spec("dedup", "gate") == ("dedup", {})
    assert parse_spec({"length": None}, "gate") == ("length", {})
    assert parse_spec({"length": {"max_edit": 0.3}}, "gate") == ("length", {"max_edit": 0.3})
    for bad in ({"a": {}, "b": {}}, 3, {"length": 0.3}):
        with pytest.raises(ZhaugError):
            parse_spec(bad, "gate")
    with pytest.raises(ZhaugError, match="unknown operation 'nope'"):
        build(OPERATIONS, "operation", "nope", {})
    with pytest.raises(ZhaugError, match="operation 'char_swap'"):
        build(OPERATIONS, "operation", "char_swap", {"speed": 1})
