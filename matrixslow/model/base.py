"""The Model every builder returns: the graph's named entry and exit points, and how to feed it."""

from dataclasses import dataclass, field

from ..core.batching import as_batch


@dataclass(kw_only=True, eq=False)
class Model:
    """A model built into the current default graph.

    Attributes
    ----------
    name : str
        The family, which is also the builder's name ("logistic_regression").
    inputs : list of Variable
        The input Variables, in feeding order.
    label : Variable
        The label Variable: (1, 1) for binary and regression models, a one-hot
        (classes, 1) column for multi-class ones.
    logits : Node
        The raw output.
    predict : Node
        The prediction: a probability for binary models, a SoftMax column for
        multi-class ones, Step(output) for the perceptron, the output itself for
        regression. Named "predict" (except regression's, which is the output).
    loss : Node
        One loss per sample ((1, 1), or (B, 1, 1) for a batch). Named "loss".
    parts : dict
        Named intermediate nodes worth looking at (for example the FM's
        "linear" and "pairwise" terms); each builder documents its own.
    """

    name: str
    inputs: list
    label: object
    logits: object
    predict: object
    loss: object
    parts: dict = field(default_factory=dict)

    def feed(self, x):
        """Turn a data set's ``x`` (N samples first) into ``{input name: batch}``.

        A model of one input takes x of shape (N, *input dim) or anything with as
        many values per sample, for example (N, n) rows for a (n, 1) input or
        (N, 64) flattened images for an (8, 8) one; it is reshaped to
        (N, *input dim), the batch ``set_value`` takes.
        """
        (node,) = self.inputs
        return {node.name: as_batch(node, x, self.name)}
