"""Field models (FM, Wide & Deep, DeepFM): the columns of a table grouped into fields, one input per field.

A field is a group of columns that describe one thing, such as the one-hot
columns of a categorical feature ("day" -> 7 columns) or the columns of a
multi-hot one ("genres" -> 18 columns). ``fields`` is an ordered mapping from
field name to either

- a number of columns: the fields then take consecutive columns, in order
  ({"day": 7, "hour": 24} means columns 0-6 and 7-30), or
- a list of column indices of the data set's x (in any order, no column twice).
"""

from dataclasses import dataclass, field

import numpy as np

from ..core.errors import ShapeError
from ..core.scope import name_scope
from ..layer import embedding, fc
from ..ops import Concat
from .base import Model
from .blocks import check_positive, hidden_layers, input_variable


@dataclass(kw_only=True, eq=False)
class FieldModel(Model):
    """A model with one input per field.

    Attributes
    ----------
    fields : dict
        Field name -> the column indices of x it reads, in input order.
    embeddings : dict
        Field name -> its embedding node E_f x_f (k, 1), for models that embed fields.
    """

    fields: dict = field(default_factory=dict)
    embeddings: dict = field(default_factory=dict)

    def feed(self, x):
        """Split a data set's x of shape (N, columns) into ``{field input name: (N, size_f, 1)}``."""
        x = np.asarray(x)
        needed = 1 + max(max(columns) for columns in self.fields.values())
        if x.ndim != 2 or x.shape[1] < needed:
            raise ShapeError(
                f"{self.name}: x must be (N, columns) with at least {needed} columns for fields "
                f"{list(self.fields)}, got shape {x.shape}"
            )
        return {node.name: x[:, columns, None] for node, columns in zip(self.inputs, self.fields.values(), strict=True)}


def column_fields(builder, fields):
    """Check ``fields`` and return it as an ordered dict field name -> list of column indices."""
    if not hasattr(fields, "items") or not fields:
        raise ValueError(f"{builder}: fields must be a non-empty mapping of field name -> columns, got {fields!r}")
    columns, next_column, seen = {}, 0, set()
    for name, spec in fields.items():
        if not isinstance(name, str) or not name or "/" in name or name == "label":
            raise ValueError(f"{builder}: field name {name!r} must be a non-empty string without '/', not 'label'")
        if isinstance(spec, (list, tuple, np.ndarray)):
            indices = [_column_index(builder, name, index) for index in spec]
            if not indices:
                raise ValueError(f"{builder}: field '{name}' has no columns")
        else:
            count = check_positive(builder, f"fields['{name}']", spec)
            indices = list(range(next_column, next_column + count))
        repeated = seen.intersection(indices) | {index for index in indices if indices.count(index) > 1}
        if repeated:
            raise ValueError(f"{builder}: field '{name}' reuses column(s) {sorted(repeated)}")
        seen.update(indices)
        columns[name] = indices
        next_column = max(indices) + 1
    return columns


def _column_index(builder, name, index):
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"{builder}: field '{name}' has column {index!r}; columns are ints >= 0")
    return int(index)


def field_inputs(columns):
    """One input Variable (size_f, 1) per field, named after the field."""
    return [input_variable((len(indices), 1), name) for name, indices in columns.items()]


def field_embeddings(columns, inputs, k):
    """Embed every field into k dimensions, in scope "Embedding/<field>"; returns {field: E_f x_f}."""
    embedded = {}
    with name_scope("Embedding"):
        for (name, indices), x in zip(columns.items(), inputs, strict=True):
            with name_scope(name):
                embedded[name] = embedding(x, len(indices), k)
    return embedded


def wide_part(inputs, columns):
    """w x + b over all fields' columns, in scope "Wide": the linear (first-order) term, (1, 1)."""
    with name_scope("Wide"):
        every_column = Concat(*inputs)
        return fc(
            every_column,
            sum(len(indices) for indices in columns.values()),
            1,
            None,
            weights_init="glorot",
            bias_init="zeros",
        )


def deep_part(embedded, k, hidden_sizes):
    """The embeddings concatenated, through ReLU layers "Deep/Hidden<i>" to one output "Deep/Output", (1, 1)."""
    with name_scope("Deep"):
        features, size = hidden_layers(Concat(*embedded.values()), k * len(embedded), hidden_sizes)
        with name_scope("Output"):
            return fc(features, size, 1, None, weights_init="glorot", bias_init="zeros")
