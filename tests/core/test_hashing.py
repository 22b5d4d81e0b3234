"""Keys: a config's key ignores the order its mappings are written in, and nothing else."""

import random

from hypothesis import given
from hypothesis import strategies as st

from zhaug.hashing import config_key, key

leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
configs = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=5), inner, max_size=5), max_leaves=20)


def reordered(value, rng: random.Random):
    """``value`` with every mapping's items in another (random) order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: reordered(v, rng) for k, v in items}
    if isinstance(value, list):
        return [reordered(v, rng) for v in value]
    return value


@given(configs, st.integers(0, 2**32))
def test_config_key_ignores_the_order_of_mapping_keys(config, seed):
    assert config_key(config, "cell") == config_key(reordered(config, random.Random(seed)), "cell")


@given(st.dictionaries(st.text(max_size=5), leaves, min_size=1, max_size=5), st.text(max_size=5))
def test_config_key_changes_with_a_value_or_a_list_order(config, name):
    changed = {**config, name: ["x", config.get(name)]}
    assert config_key(changed) != config_key(config)
    assert config_key(["a", "b"]) != config_key(["b", "a"])  # lists keep their order: families, arms


def test_keys_of_plain_values_are_unchanged():
    """Run fingerprints and seeds hash ``repr`` as before; only mappings are sorted."""
    assert config_key("a", 1, (2.5, None)) == key("a", 1, (2.5, None))
    assert config_key({"b": 1, "a": 2}) == key({"a": 2, "b": 1}) != key({"b": 1, "a": 2})
