"""The errors the engine raises for user mistakes; each message names the node and the shapes."""


class GraphError(ValueError):
    """A graph was built or used wrongly (a bad parent, a missing value, a duplicate name)."""


class ShapeError(ValueError):
    """Values whose shapes do not fit the operator or the Variable they were given to."""
