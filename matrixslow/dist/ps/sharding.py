"""Which parameter-server shard holds which variable, balanced by bytes."""

import math

import numpy as np


def variable_bytes(spec, name="variable"):
    """Bytes of one variable given as an array or a ``(shape, dtype)`` pair."""
    if hasattr(spec, "shape") and hasattr(spec, "dtype"):
        shape, dtype = spec.shape, spec.dtype
    elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], tuple | list):
        shape, dtype = spec
    else:
        raise TypeError(f"variable {name!r}: expected an array or a (shape, dtype) pair, got {spec!r}")
    return math.prod(shape) * np.dtype(dtype).itemsize


def shard_variables(variables, num_shards):
    """Assign each variable to one of ``num_shards`` shards so the byte loads stay even.

    Greedy largest-first: variables in decreasing size (ties by name, so every worker computes the
    same plan) each go onto the currently lightest shard. The heaviest shard then carries at most
    the ideal share ``total / num_shards`` plus the largest single variable.

    Parameters
    ----------
    variables : dict of str -> array or (shape, dtype)
    num_shards : int

    Returns
    -------
    dict of str -> int
        The shard index of every variable.
    """
    if num_shards < 1:
        raise ValueError(f"num_shards={num_shards} must be at least 1")
    sizes = {name: variable_bytes(spec, name) for name, spec in variables.items()}
    loads = [0] * num_shards
    plan = {}
    for name in sorted(sizes, key=lambda name: (-sizes[name], name)):
        lightest = min(range(num_shards), key=lambda shard: (loads[shard], shard))
        plan[name] = lightest
        loads[lightest] += sizes[name]
    return plan


def shard_loads(variables, plan, num_shards):
    """Bytes each shard carries under ``plan``."""
    loads = [0] * num_shards
    for name, shard in plan.items():
        loads[shard] += variable_bytes(variables[name], name)
    return loads
