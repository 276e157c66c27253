"""``import matrixslow as ms`` exposes the book's surface."""

import numpy as np

import matrixslow as ms


def test_the_package_exposes_its_modules():
    for module in ("core", "ops", "optimizer", "layer", "trainer", "model"):
        assert hasattr(ms, module), module
    assert ms.ops.loss.CrossEntropyWithSoftMax.__module__ == "matrixslow.ops.loss"


def test_the_top_level_shortcuts_are_the_core_objects():
    assert ms.Variable is ms.core.Variable
    assert ms.Graph is ms.core.Graph
    assert ms.name_scope is ms.core.name_scope
    assert ms.get_node_from_graph is ms.core.get_node_from_graph
    assert ms.default_graph is ms.core.default_graph


def test_the_default_graph_is_the_graph_nodes_go_to_outside_any_with_block():
    assert isinstance(ms.default_graph, ms.core.Graph)
    assert ms.core.get_default_graph() is ms.default_graph


def test_core_exposes_the_book_helpers():
    for name in (
        "Node",
        "Variable",
        "Graph",
        "name_scope",
        "get_node_from_graph",
        "get_trainable_variables_from_graph",
        "update_node_value_in_graph",
        "set_default_dtype",
        "get_default_dtype",
        "jacobian",
        "forward",
        "backward",
        "GraphError",
        "ShapeError",
    ):
        assert hasattr(ms.core, name), name


def test_ops_expose_every_operator_and_loss():
    operators = ["Add", "MatMul", "Multiply", "ScalarMultiply", "Logistic", "ReLU", "SoftMax", "Step", "Tanh"]
    operators += ["Reshape", "Transpose", "Concat", "Sum", "Welding", "Convolve", "MaxPooling"]
    for name in operators:
        assert issubclass(getattr(ms.ops, name), ms.core.Node), name
    for name in ("LogLoss", "CrossEntropyWithSoftMax", "PerceptionLoss", "MeanSquaredError"):
        assert issubclass(getattr(ms.ops.loss, name), ms.core.Node), name


def test_every_operator_is_registered_for_saving_under_its_class_name():
    for name in ("Variable", "MatMul", "Reshape", "MaxPooling", "Welding", "CrossEntropyWithSoftMax"):
        assert ms.core.NODE_TYPES[name].__name__ == name


def test_optimizers_and_layers_are_exposed():
    for name in ("Optimizer", "GradientDescent", "Momentum", "AdaGrad", "RMSProp", "Adam"):
        assert hasattr(ms.optimizer, name), name
    for name in ("fc", "conv", "pooling"):
        assert callable(getattr(ms.layer, name)), name


def test_user_errors_are_value_errors_so_callers_can_catch_them_broadly():
    assert issubclass(ms.core.GraphError, ValueError)
    assert issubclass(ms.core.ShapeError, ValueError)


def test_the_default_dtype_is_float64():
    assert ms.core.get_default_dtype() is np.float64
