"""plot_history and plot_roc: every series per epoch, the ROC curve with its AUC."""

import matplotlib.figure
import numpy as np
import pytest

from matrixslow.viz import plot_history, plot_roc

from .conftest import assert_png

HISTORY = [
    {"epoch": 1, "loss": 0.9, "Accuracy": 0.6},
    {"epoch": 2, "loss": 0.7},  # not evaluated this epoch
    {"epoch": 3, "loss": 0.5, "Accuracy": 0.8, "ROC_AUC": 0.77, "confusion": [[3, 1], [0, 4]]},
]


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def points(line):
    return list(zip(line.get_xdata(), line.get_ydata(), strict=True))


def test_loss_and_metrics_get_subplots_of_their_own_with_points_only_where_measured(tmp_path):
    path = tmp_path / "history.png"
    figure = plot_history(HISTORY, path=path)
    loss_ax, metric_ax = figure.axes
    assert points(lines_by_label(loss_ax)["loss"]) == [(1, 0.9), (2, 0.7), (3, 0.5)]
    metrics = lines_by_label(metric_ax)
    assert set(metrics) == {"Accuracy", "ROC_AUC"}  # the confusion matrix is no single number
    assert points(metrics["Accuracy"]) == [(1, 0.6), (3, 0.8)]
    assert points(metrics["ROC_AUC"]) == [(3, 0.77)]
    assert metrics["ROC_AUC"].get_marker() == "o"  # a lone point must still show
    width, height = (figure.get_size_inches() * figure.dpi).round().astype(int)
    assert_png(path, width, height)


def test_every_loss_series_shares_the_loss_subplot():
    figure = plot_history([{"loss": 1.0, "val_loss": 1.2}, {"loss": 0.8, "val_loss": 1.1}])
    (only,) = figure.axes
    assert set(lines_by_label(only)) == {"loss", "val_loss"}
    assert points(lines_by_label(only)["val_loss"]) == [(1, 1.2), (2, 1.1)]  # no "epoch": counted from 1


def test_a_given_axes_gets_every_series(tmp_path):
    figure = matplotlib.figure.Figure(figsize=(4, 3), dpi=100)
    ax = figure.add_subplot()
    path = tmp_path / "history.png"
    assert plot_history(HISTORY, ax=ax, path=path) is figure
    assert set(lines_by_label(ax)) == {"loss", "Accuracy", "ROC_AUC"}
    assert_png(path, 400, 300)


def test_numpy_scalars_count_as_numbers():
    figure = plot_history([{"epoch": 1, "loss": np.float32(0.5), "Accuracy": np.array(0.25)}])
    assert points(lines_by_label(figure.axes[1])["Accuracy"]) == [(1, 0.25)]


@pytest.mark.parametrize(
    ("history", "error", "message"),
    [
        ([], ValueError, "no numeric series"),
        ([{"epoch": 1}], ValueError, "no numeric series"),
        ([{"loss": 1.0}, 0.5], TypeError, r"history\[1\] is a float, expected a dict"),
        ({"loss": [1.0, 0.5]}, TypeError, "list of per-epoch dicts, got dict"),
    ],
)
def test_a_history_without_series_or_of_the_wrong_type_is_refused(history, error, message):
    with pytest.raises(error, match=message):
        plot_history(history)


def test_roc_curve_has_the_diagonal_and_the_given_auc_in_the_legend(tmp_path):
    path = tmp_path / "roc.png"
    figure = plot_roc([0.0, 0.2, 1.0], [0.0, 0.7, 1.0], auc=0.9123, path=path)
    (ax,) = figure.axes
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["ROC (AUC = 0.912)", "chance"]
    assert points(lines_by_label(ax)["chance"]) == [(0, 0), (1, 1)]
    assert_png(path, 500, 500)


def test_without_an_auc_the_legend_gives_the_area_under_the_points():
    # Trapezoids: 0.5 * (0 + 1) / 2 + 0.5 * (1 + 1) / 2 = 0.75
    figure = plot_roc([0.0, 0.5, 1.0], [0.0, 1.0, 1.0])
    assert figure.axes[0].get_legend().get_texts()[0].get_text() == "ROC (AUC = 0.750)"


def test_roc_on_a_given_axes(tmp_path):
    figure = matplotlib.figure.Figure(figsize=(3, 2), dpi=100)
    ax = figure.add_subplot()
    assert plot_roc([0, 1], [0, 1], ax=ax, path=tmp_path / "roc.png") is figure
    assert_png(tmp_path / "roc.png", 300, 200)


@pytest.mark.parametrize(
    ("fpr", "tpr", "message"),
    [
        ([0, 1], [0, 0.5, 1], "same length"),
        ([0], [0], "same length >= 2"),
        ([0, 1.5], [0, 1], "fpr must lie in"),
        ([0, 1], [0, -0.1], "tpr must lie in"),
        ([0, 0.6, 0.4, 1], [0, 0.5, 0.7, 1], "non-decreasing"),
    ],
)
def test_rates_that_are_no_roc_curve_are_refused(fpr, tpr, message):
    with pytest.raises(ValueError, match=message):
        plot_roc(fpr, tpr)
