"""How large the parts of a model file may be: checked before anything is allocated for them.

A model file says how large its Variables are, and an .npz member says how much
data it holds; both are believed only within these bounds, so that a file of a
few kilobytes cannot make a load allocate gigabytes.
"""

import math

# Rows or columns of one Variable: a flattened 4096 x 4096 image is 2**24 rows.
MAX_AXIS_LENGTH = 2**24
# Elements of one Variable: 512 MiB as float64, more than this NumPy engine trains in reasonable time.
MAX_VARIABLE_ELEMENTS = 2**26
# Elements of all the saved values of one weights file together: 2 GiB as float64.
MAX_WEIGHTS_ELEMENTS = 2**28
# A model file lists nodes, not numbers; a graph of 100,000 nodes takes about 20 MiB.
MAX_MODEL_FILE_BYTES = 64 * 2**20
# Containers inside containers in a model file; ours nest 5 deep, a user's meta a few more.
MAX_JSON_DEPTH = 64


def dim_problem(dim):
    """What is too large about ``dim`` (a sequence of non-negative ints), or None if it is within the bounds."""
    if any(length > MAX_AXIS_LENGTH for length in dim):
        return f"an axis longer than {MAX_AXIS_LENGTH} (model_limits.MAX_AXIS_LENGTH)"
    if math.prod(dim) > MAX_VARIABLE_ELEMENTS:
        return f"more than {MAX_VARIABLE_ELEMENTS} elements (model_limits.MAX_VARIABLE_ELEMENTS)"
    return None


def json_depth_exceeds(value, limit=MAX_JSON_DEPTH):
    """Whether the parsed JSON ``value`` nests containers deeper than ``limit``; iterative, for any depth."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
