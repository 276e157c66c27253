"""Bad arguments fail before anything is built, with a message naming the builder and the argument."""

import pytest

import matrixslow as ms

BAD_CALLS = [
    (lambda: ms.model.logistic_regression(0), r"logistic_regression: input_size must be a positive int, got 0"),
    (lambda: ms.model.softmax_regression(3, 2.0), r"softmax_regression: classes must be a positive int, got 2.0"),
    (lambda: ms.model.perceptron(True), r"perceptron: input_size must be a positive int, got True"),
    (lambda: ms.model.factorization_machine(4, -1), r"factorization_machine: k must be a positive int, got -1"),
    (lambda: ms.model.dnn(3, [4, 0], 2), r"dnn: hidden_sizes\[1\] must be a positive int, got 0"),
    (lambda: ms.model.dnn(3, 4, 2), r"dnn: hidden_sizes must be a list of positive ints"),
    (lambda: ms.model.dnn(3, [4], 2, activation="relu"), r"dnn: unknown activation 'relu'; expected one of"),
    (lambda: ms.model.cnn((8,), 10), r"cnn: input_shape must be two positive ints \(height, width\), got \(8,\)"),
    (lambda: ms.model.cnn((8, 8), 10, kernel_shape=(3, 0)), r"cnn: kernel_shape\[1\] must be a positive int"),
    (lambda: ms.model.cnn((8, 8), 10, pooling=(2, 2, 2)), r"cnn: pooling must be \(window, stride\) or None"),
    (lambda: ms.model.rnn(0, 2, 3, 2), r"rnn: seq_len must be a positive int, got 0"),
    (lambda: ms.model.rnn(3, 2, 3, 2, activation="Logistic"), r"rnn: unknown activation 'Logistic'"),
    (lambda: ms.model.wide_and_deep({}, 2, [3]), r"wide_and_deep: fields must be a non-empty mapping"),
    (lambda: ms.model.wide_and_deep([3, 4], 2, [3]), r"wide_and_deep: fields must be a non-empty mapping"),
    (lambda: ms.model.deepfm({"a": 2, "b": [1, 5]}, 2, []), r"deepfm: field 'b' reuses column\(s\) \[1\]"),
    (lambda: ms.model.deepfm({"a": [0, 0]}, 2, []), r"deepfm: field 'a' reuses column\(s\) \[0\]"),
    (lambda: ms.model.deepfm({"a": []}, 2, []), r"deepfm: field 'a' has no columns"),
    (lambda: ms.model.deepfm({"a": [-1]}, 2, []), r"deepfm: field 'a' has column -1"),
    (lambda: ms.model.deepfm({"a/b": 2}, 2, []), r"deepfm: field name 'a/b' must be a non-empty string without '/'"),
    (lambda: ms.model.deepfm({"label": 2}, 2, []), r"deepfm: field name 'label'"),
    (lambda: ms.model.deepfm({"a": 0}, 2, []), r"deepfm: fields\['a'\] must be a positive int, got 0"),
    (lambda: ms.model.deepfm({"a": 2}, 2, [3, -4]), r"deepfm: hidden_sizes\[1\] must be a positive int"),
]


@pytest.mark.parametrize(("call", "message"), BAD_CALLS, ids=[message[:40] for _, message in BAD_CALLS])
def test_a_bad_argument_is_named_and_builds_nothing(graph, call, message):
    with pytest.raises(ValueError, match=message):
        call()
    assert graph.node_count() == 0
