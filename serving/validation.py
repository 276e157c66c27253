"""Checks every request before it reaches the queue, so a bad one never touches the graph.

A request names each of the model's inputs once, each value either one sample (the input
Variable's dim, e.g. (8, 8)) or a batch of B samples (B, 8, 8), all inputs in the same
form with the same B; values are float32 or float64 and finite. Anything else is an
``InvalidRequest`` (gRPC INVALID_ARGUMENT, HTTP 400) whose message names the input and
the shape it takes. The check is strict on purpose: guessing that a (64,) row is an (8, 8)
image hides client bugs, and a (1, 1) input would make such guesses ambiguous.
"""

from dataclasses import dataclass

import numpy as np

from .errors import MAX_NAME_CHARS, InvalidRequest, shown
from .settings import DEFAULT_MAX_REQUEST_BYTES

ACCEPTED_DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class CheckedRequest:
    """A request ready for the batcher.

    Attributes
    ----------
    batch : dict
        Input name -> (B, rows, cols) array in the model's dtype.
    size : int
        B, the number of samples.
    single : bool
        The request sent one sample without the batch axis; its answer drops the axis too.
    output_names : list of str
    """

    batch: dict
    size: int
    single: bool
    output_names: list


def check_name_lengths(names, what):
    """InvalidRequest for a ``what`` ("input", "output") name over ``MAX_NAME_CHARS``, before any message repeats it."""
    for name in names:
        if len(name) > MAX_NAME_CHARS:
            raise InvalidRequest(f"{what} name {shown(name)} is longer than the limit of {MAX_NAME_CHARS} characters")


def expected_form(name, dim):
    """How messages describe what an input takes."""
    return f"input {name!r} takes one sample of shape {tuple(dim)} or a batch of shape (B, {dim[0]}, {dim[1]})"


def unknown_input(name, dims):
    """The message for an input ``name`` that is none of ``dims`` ({input name: dim})."""
    expected = "; ".join(expected_form(known, dim) for known, dim in dims.items())
    return f"unknown input {shown(name)}; the model's inputs are {list(dims)}: {expected}"


def check_request(model, inputs, output_names=(), max_request_bytes=DEFAULT_MAX_REQUEST_BYTES):
    """Check ``inputs`` ({name: array}) against ``model`` (a LoadedModel) and shape them into one batch.

    Raises
    ------
    InvalidRequest
        For no inputs, an unknown or missing input name, an unknown output name, a
        dtype other than float32/float64, a shape that is neither the dim nor (B, *dim),
        zero samples, inputs disagreeing on B, a NaN or infinity, or more than
        ``max_request_bytes`` bytes of values.
    """
    dims = model.input_dims()
    expected = "; ".join(expected_form(name, dim) for name, dim in dims.items())
    if not inputs:
        raise InvalidRequest(f"empty request: no input tensors; {expected}")
    unknown = sorted(set(inputs) - set(dims))
    if unknown:
        raise InvalidRequest(unknown_input(unknown[0], dims))
    missing = [name for name in dims if name not in inputs]
    if missing:
        raise InvalidRequest(f"missing input {missing[0]!r}: {expected_form(missing[0], dims[missing[0]])}")
    total_bytes = sum(np.asarray(value).nbytes for value in inputs.values())
    if total_bytes > max_request_bytes:
        raise InvalidRequest(
            f"request too large: {total_bytes} bytes of input values exceed the server's limit of "
            f"{max_request_bytes} bytes (--max-request-bytes); split the batch: {expected}"
        )
    output_names = list(output_names) or list(model.outputs)
    for name in output_names:
        if name not in model.outputs:
            raise InvalidRequest(f"unknown output {shown(name)}; the model's outputs are {list(model.outputs)}")

    batch, forms = {}, {}
    for name, dim in dims.items():
        value = np.asarray(inputs[name])
        if value.dtype.name not in ACCEPTED_DTYPES:
            raise InvalidRequest(
                f"input {name!r}: dtype {value.dtype.name} is not accepted; send float32 or float64 "
                f"({expected_form(name, dim)})"
            )
        if value.shape == dim:
            forms[name] = (True, 1)
            value = value[np.newaxis]
        elif value.ndim == 3 and value.shape[1:] == dim:
            if value.shape[0] == 0:
                raise InvalidRequest(f"input {name!r}: empty batch of shape {value.shape}; {expected_form(name, dim)}")
            forms[name] = (False, value.shape[0])
        else:
            raise InvalidRequest(f"input {name!r}: got shape {value.shape}; {expected_form(name, dim)}")
        if not np.isfinite(value).all():
            raise InvalidRequest(
                f"input {name!r}: values must be finite, got NaN or infinity ({expected_form(name, dim)})"
            )
        batch[name] = value.astype(model.dtype, copy=False)
    if len(set(forms.values())) > 1:
        described = ", ".join(
            f"{name!r} {'one sample' if single else f'a batch of {size}'}" for name, (single, size) in forms.items()
        )
        raise InvalidRequest(f"inputs disagree on the batch: {described}; send every input in the same form")
    single, size = next(iter(forms.values()))
    return CheckedRequest(batch=batch, size=size, single=single, output_names=output_names)
