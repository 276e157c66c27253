"""A gradient checker: backprop gradients against central finite differences, in float64.

The target may be any matrix or batch of matrices. It is reduced to one number
with a fixed random projection, ``sum(target * R)``, so every output element
counts with its own weight: an error in one element cannot hide behind a plain
sum, and a gradient that mixes up two elements changes the result. Backprop gets
the same reduction by seeding ``backward`` with ``R``.
"""

from dataclasses import dataclass, field

import numpy as np

from matrixslow.core import backward, forward

STEP = 1e-6
TOLERANCE = 1e-6


@dataclass
class GradientCheckResult:
    """The outcome of ``check_gradients``.

    Attributes
    ----------
    target : Node
        The node whose gradients were checked.
    errors : dict
        Input name -> relative error (see ``relative_error``).
    analytic, numeric : dict
        Input name -> the backprop and the finite-difference gradient.
    """

    target: object
    errors: dict = field(default_factory=dict)
    analytic: dict = field(default_factory=dict)
    numeric: dict = field(default_factory=dict)

    @property
    def worst(self):
        """The largest relative error over all inputs (0 with no inputs)."""
        return max(self.errors.values(), default=0.0)

    @property
    def worst_input(self):
        """The name of the input with the largest error, or None."""
        return max(self.errors, key=self.errors.get, default=None)


def relative_error(analytic, numeric):
    """max|a - n| / (max|a| + max|n|), with the denominator kept above 1e-8.

    Scaling by the gradients' size makes one tolerance fit gradients of any
    magnitude; the floor keeps two (near-)zero gradients from dividing by zero.
    """
    scale = max(1e-8, float(np.max(np.abs(analytic), initial=0.0) + np.max(np.abs(numeric), initial=0.0)))
    return float(np.max(np.abs(analytic - numeric), initial=0.0)) / scale


def numerical_jacobian(target, variable, step=STEP):
    """The Jacobian d target / d variable by central differences, row-major.

    Returns an array of shape (target.value.size, variable.value.size): column j
    is (target(x + h e_j) - target(x - h e_j)) / 2h. The variable's value is
    restored afterwards.
    """
    forward(target)
    original = variable.value
    columns = []
    try:
        for j in range(original.size):
            values = []
            for delta in (step, -step):
                perturbed = original.copy()  # set_value may keep the array it gets: never edit in place
                perturbed.flat[j] += delta
                variable.set_value(perturbed)  # also forgets every value computed from the old one
                forward(target)
                values.append(target.value.ravel().copy())
            columns.append((values[0] - values[1]) / (2.0 * step))
    finally:
        variable.set_value(original)
        forward(target)
    return np.stack(columns, axis=1) if columns else np.zeros((target.value.size, 0))


def check_gradients(target, inputs, step=STEP, seed=0):
    """Compare backprop and finite-difference gradients of ``sum(target * R)``.

    Parameters
    ----------
    target : Node
        The result to differentiate; a single matrix or a batch.
    inputs : list of Variable
        Variables with values; each is perturbed element by element.
    step : float
        The finite-difference step h.
    seed : int
        Seeds the random projection R, so a check is repeatable.

    Returns
    -------
    GradientCheckResult
    """
    if target.graph.dtype != np.float64:
        # A step of 1e-6 is below float32's resolution near 1: the differences would be noise.
        raise TypeError(
            f"{target.describe()}: gradient checks need a float64 graph, got {np.dtype(target.graph.dtype).name}"
        )
    forward(target)
    projection = np.random.default_rng(seed).standard_normal(target.value.shape)
    grads = backward(target, wrt=list(inputs), seed=projection)
    result = GradientCheckResult(target)
    for variable in inputs:
        analytic = np.asarray(grads[variable])
        if analytic.shape != variable.value.shape:
            raise AssertionError(
                f"{target.describe()}: gradient for input '{variable.name}' has shape {analytic.shape}, "
                f"expected {variable.value.shape}"
            )
        # d sum(target * R) / d x_j = sum_i R_i J_ij, that is R^T J.
        numeric = (projection.ravel() @ numerical_jacobian(target, variable, step)).reshape(variable.value.shape)
        result.errors[variable.name] = relative_error(analytic, numeric)
        result.analytic[variable.name] = analytic
        result.numeric[variable.name] = numeric
    return result


def assert_gradients_match(target, inputs, tolerance=TOLERANCE, step=STEP, seed=0):
    """Run ``check_gradients`` and raise AssertionError naming the node and input that fail.

    Returns the result when every input's relative error is below ``tolerance``.
    """
    result = check_gradients(target, inputs, step=step, seed=seed)
    failures = {name: error for name, error in result.errors.items() if not error < tolerance}
    if failures:
        details = "; ".join(
            f"input '{name}': relative error {error:.2e}\n  backprop {result.analytic[name].ravel()}"
            f"\n  numeric  {result.numeric[name].ravel()}"
            for name, error in failures.items()
        )
        raise AssertionError(f"{target.describe()}: gradients differ (tolerance {tolerance:.0e}); {details}")
    return result
