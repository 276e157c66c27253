"""Forward evaluation and reverse-mode differentiation over a topological order.

Both walk an explicit list instead of recursing, so a graph as deep as an RNN
unrolled over thousands of steps never meets Python's recursion limit.
"""

import numpy as np

from .batching import sum_over_batch
from .errors import GraphError, ShapeError
from .plan import Plan


def topological_order(target):
    """Every ancestor of ``target`` and ``target`` itself, parents before children.

    Cached per graph until the graph's structure changes (a new node, a weld).
    """
    cache = target.graph._order_cache
    order = cache.get(target)
    if order is None:
        order = _depth_first_postorder(target)
        cache[target] = order
    return order


def _depth_first_postorder(target):
    order, visited = [], {target}
    stack = [(target, iter(target.parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent not in visited:
                visited.add(parent)
                stack.append((parent, iter(parent.parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def forward(target):
    """Compute every missing value that ``target`` needs, then ``target``'s own."""
    order = topological_order(target)
    graph = target.graph
    if not graph.compiled:
        _interpret_forward(order)
        return
    plan, key = graph.plans.lookup(target, None, order)
    if plan is None:
        _interpret_forward(order)  # the first walk of these shapes: the interpreter's checks and errors
        _store_plan(target, None, key, order)
    else:
        plan.forward()


def _interpret_forward(order):
    for node in order:
        if node.value is None:
            node.compute()


def backward(target, wrt=None, seed=None, clear=True):
    """Backpropagate from ``target`` and return ``{node: gradient}`` for the nodes in ``wrt``.

    Parameters
    ----------
    target : Node
        The result. A batched target (B, r, c) is read as B per-sample results.
    wrt : list of Node, optional
        The nodes whose gradients are wanted; defaults to the trainable
        Variables ``target`` depends on.
    seed : ndarray, optional
        d(final) / d(target); defaults to ones, so a non-scalar target is
        differentiated as the sum of its elements (and of its samples).
    clear : bool, default True
        Forget the older gradients of ``target``'s other ancestors first.
        ``Node.backward`` (the book's ``w.backward(loss)``) passes False, so that
        ``w.jacobi`` survives a later ``b.backward(loss)`` until ``clear_jacobi()``.

    Every node on a path from a ``wrt`` node to ``target`` keeps its gradient
    in ``node.grad`` (the book's ``jacobi`` reads it); it is replaced, never
    added to, so gradients never pile up across calls.
    """
    order = topological_order(target)
    if target.graph.compiled:
        return _compiled_backward(target, wrt, seed, clear, order)
    _interpret_forward(order)
    if wrt is None:
        wrt = _trainables(order)
    on_path = _nodes_between(order, set(wrt))
    grads = {target: _seed(target, seed)}
    for node in reversed(order):
        grad = grads.get(node)
        if grad is None or node not in on_path:
            if clear:
                node.grad = None
            continue
        node.grad = grad
        for index, parent in enumerate(node.parents):
            if parent in on_path:
                parent_grad = _fit_to_parent(node, index, node.vjp(index, grad))
                previous = grads.get(parent)
                # A new array, never "+=": an operator may hand the same array to several parents.
                grads[parent] = parent_grad if previous is None else previous + parent_grad
    return {node: grads[node] if node in grads else np.zeros_like(node.value) for node in wrt}


def _compiled_backward(target, wrt, seed, clear, order):
    """``backward`` replayed from the plan of these shapes (see ``plan``); made on their first walk."""
    wrt_key = None if wrt is None else tuple(wrt)
    plan, key = target.graph.plans.lookup(target, wrt_key, order)
    if plan is None:
        _interpret_forward(order)  # the interpreter's checks and errors, once per family of shapes
        plan = _store_plan(target, wrt_key, key, order)
    plan.forward()  # before the seed, which takes the target's shape
    return plan.backward(plan.ones_seed() if seed is None else _seed(target, seed), clear)


def _store_plan(target, wrt_key, key, order):
    """The plan for ``key``, from values the interpreter has just computed."""
    wrt = _trainables(order) if wrt_key is None else list(wrt_key)
    plan = Plan(target, wrt, order, _nodes_between(order, set(wrt)))
    target.graph.plans.store(target, key, plan)
    return plan


def _trainables(order):
    return [node for node in order if getattr(node, "trainable", False)]


def _nodes_between(order, wrt):
    """The nodes of ``order`` that are in ``wrt`` or depend on one of them."""
    on_path = set()
    for node in order:
        if node in wrt or any(parent in on_path for parent in node.parents):
            on_path.add(node)
    return on_path


def _seed(target, seed):
    if seed is None:
        return np.ones_like(target.value)
    seed = np.asarray(seed, dtype=target.value.dtype)
    if seed.shape != target.value.shape:
        raise ShapeError(f"{target.describe()}: seed of shape {seed.shape} does not match value {target.value.shape}")
    return seed


def _fit_to_parent(node, index, grad):
    """Sum a batched gradient over the batch where the parent is one shared matrix.

    Operators differentiate per sample and may return the gradient of a shared
    (2-D) parent for every sample; its true gradient is the sum over samples.
    Doing it here keeps that rule out of every operator.
    """
    parent = node.parents[index].value
    if grad.ndim == 3 and parent.ndim == 2:
        grad = sum_over_batch(grad)
    if grad.shape != parent.shape:
        raise RuntimeError(
            f"{node.describe()} returned a gradient of shape {grad.shape} for parent {index} of shape {parent.shape}"
        )
    return grad


def jacobian(result, node):
    """The explicit Jacobian d result / d node of one sample, built from the backward functions.

    Row i is the gradient of the i-th element of ``result`` (row-major), so the
    matrix has ``result.dimension()`` rows and ``node.dimension()`` columns: the
    book's dense Jacobian, made for teaching and testing, never for training.
    """
    forward(result)
    if result.value.ndim != 2 or node.value is None or node.value.ndim != 2:
        raise GraphError(
            f"jacobian needs single-sample (2-D) values: {result.describe()} has "
            f"{result.value.shape}, {node.describe()} has {None if node.value is None else node.value.shape}"
        )
    rows = []
    for i in range(result.value.size):
        seed = np.zeros_like(result.value)
        seed.flat[i] = 1.0
        rows.append(backward(result, wrt=[node], seed=seed)[node].ravel())
    return np.array(rows)
