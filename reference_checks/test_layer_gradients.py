"""Every layer helper in ``ms.layer`` has the right gradients, per sample and batched.

Each case builds the helper on a fresh float64 graph and checks the gradient of
its output(s) with respect to every trainable Variable it created and to its input.
A test fails when ``ms.layer`` gains a helper without a case here.
"""

import inspect

import numpy as np
import pytest

import matrixslow as ms
from reference_checks.gradcheck import assert_gradients_match
from reference_checks.model_cases import make_embedding_case

BATCH = 3
MODES = ("sample", "batch")


def _input(name, dim, mode, rng, fill):
    variable = ms.Variable(dim, init=False, trainable=False, name=name)
    variable.set_value(fill(rng, (BATCH, *dim) if mode == "batch" else dim))
    return variable


def _away_from_zero(rng, shape):
    # ReLU has a kink at 0: keep every pre-activation clear of it for finite differences.
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.3, 1.5, size=shape)


def _distinct(rng, shape):
    # Max pooling has ties only between equal values: make them all different.
    return (rng.permutation(int(np.prod(shape))).reshape(shape) - np.prod(shape) / 2) * 0.1


def _trainables(graph):
    return ms.core.get_trainable_variables_from_graph(graph=graph)


def fc_case(mode, rng):
    with ms.core.Graph() as graph:
        x = _input("x", (4, 1), mode, rng, _away_from_zero)
        out = ms.layer.fc(x, 4, 3, "Tanh")
    for weight in _trainables(graph):
        weight.set_value(rng.standard_normal(weight.dim))  # a non-zero bias too
    return out, [x, *_trainables(graph)]


def conv_case(mode, rng):
    with ms.core.Graph() as graph:
        maps = [_input(f"map{i}", (5, 4), mode, rng, lambda r, s: r.standard_normal(s)) for i in range(2)]
        outputs = ms.layer.conv(maps, (5, 4), 2, (3, 3), "Logistic")
        target = ms.ops.Add(*outputs)
    for weight in _trainables(graph):
        weight.set_value(rng.standard_normal(weight.dim))
    return target, [*maps, *_trainables(graph)]


def pooling_case(mode, rng):
    with ms.core.Graph():
        maps = [_input(f"map{i}", (5, 6), mode, rng, _distinct) for i in range(2)]
        outputs = ms.layer.pooling(maps, (3, 3), (2, 2))
        target = ms.ops.Concat(*outputs)
    return target, maps


def embedding_case(mode, rng):
    return make_embedding_case("batch" if mode == "batch" else "sample")


CASES = {"fc": fc_case, "conv": conv_case, "pooling": pooling_case, "embedding": embedding_case}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("helper", sorted(CASES))
def test_layer_helper_gradients(helper, mode):
    target, inputs = CASES[helper](mode, np.random.default_rng(7))
    value = target.forward()
    assert value.ndim == (3 if mode == "batch" else 2)
    result = assert_gradients_match(target, inputs)
    vacuous = [name for name, grad in result.analytic.items() if not np.any(grad)]
    assert not vacuous, f"{helper}: zero gradient for {vacuous}; the check would prove nothing"


def test_every_layer_helper_has_a_case():
    helpers = {name for name, member in inspect.getmembers(ms.layer, inspect.isfunction) if not name.startswith("_")}
    assert {"fc", "conv", "pooling"} <= helpers
    missing = sorted(helpers - set(CASES))
    assert not missing, f"layer helpers without a gradient case in {__file__}: {missing}"
