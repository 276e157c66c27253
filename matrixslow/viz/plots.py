"""Training pictures: the loss and metrics per epoch, and the ROC curve."""

import numbers

import numpy as np

from ._matplotlib import new_figure, require_matplotlib, root_figure, save_png


def plot_history(history, path=None, ax=None):
    """Plot a trainer's history: every series against the epoch.

    Parameters
    ----------
    history : list of dict
        One dict per epoch, like ``{"epoch": 1, "loss": 0.53, "Accuracy": 0.81}``.
        Every key but "epoch" is a series; a series may be missing from some
        epochs (metrics that are only evaluated now and then) and is drawn where
        it is present. Without "epoch" a record counts as epoch ``index + 1``.
        Values that are not single numbers (a confusion matrix) are left out.
    path : str or path-like, optional
        Also write the figure as a PNG there.
    ax : matplotlib Axes, optional
        Draw every series on this one Axes. By default a new figure gets the
        losses (series whose name contains "loss") on a subplot of their own
        above the metrics.

    Returns
    -------
    matplotlib Figure
    """
    require_matplotlib("plot_history")
    series = _series(history)
    losses = {name: points for name, points in series.items() if "loss" in name.lower()}
    metrics = {name: points for name, points in series.items() if name not in losses}
    if ax is not None:
        _plot_series(ax, series, ylabel="value")
        figure = root_figure(ax)
    else:
        # _series refused a history without any series, so there is at least one group.
        groups = [(group, label) for group, label in ((losses, "loss"), (metrics, "metric")) if group]
        figure = new_figure("plot_history", 7, 2.8 * len(groups) + 0.6)
        axes = figure.subplots(len(groups), 1, sharex=True, squeeze=False)[:, 0]
        for subplot, (group, label) in zip(axes, groups, strict=True):
            _plot_series(subplot, group, ylabel=label)
        figure.tight_layout()
    save_png(figure, path)
    return figure


def _series(history):
    """``{name: ([epochs], [values])}`` from the per-epoch records, in order of first appearance."""
    if isinstance(history, dict) or not hasattr(history, "__iter__"):
        raise TypeError(f"plot_history: history must be a list of per-epoch dicts, got {type(history).__name__}")
    series = {}
    for index, record in enumerate(history):
        if not isinstance(record, dict):
            raise TypeError(f"plot_history: history[{index}] is a {type(record).__name__}, expected a dict")
        epoch = record.get("epoch", index + 1)
        for name, value in record.items():
            if name == "epoch" or not _is_number(value):
                continue
            epochs, values = series.setdefault(str(name), ([], []))
            epochs.append(epoch)
            values.append(float(value))
    if not series:
        raise ValueError("plot_history: history has no numeric series to plot (no epochs, or only 'epoch' keys)")
    return series


def _is_number(value):
    if isinstance(value, np.ndarray):
        return value.size == 1 and np.issubdtype(value.dtype, np.number)
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _plot_series(ax, series, ylabel):
    for name, (epochs, values) in series.items():
        # Markers, so a metric evaluated in a single epoch still shows.
        ax.plot(epochs, values, marker="o", markersize=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)


def plot_roc(fpr, tpr, auc=None, path=None, ax=None):
    """Plot a ROC curve with the chance diagonal.

    Parameters
    ----------
    fpr, tpr : array-like of the same length
        False and true positive rates in [0, 1], fpr non-decreasing (as
        ``sklearn.metrics.roc_curve`` gives them).
    auc : float, optional
        The area under the curve for the legend; by default the trapezoid area
        under the given points.
    path : str or path-like, optional
        Also write the figure as a PNG there.
    ax : matplotlib Axes, optional
        Where to draw; by default a new 5 x 5 inch figure.

    Returns
    -------
    matplotlib Figure
    """
    require_matplotlib("plot_roc")
    fpr, tpr = _checked_rates(fpr, tpr)
    if auc is None:
        auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    if ax is None:
        ax = new_figure("plot_roc", 5, 5).add_subplot()
    ax.plot(fpr, tpr, linewidth=1.5, label=f"ROC (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right")
    figure = root_figure(ax)
    save_png(figure, path)
    return figure


def _checked_rates(fpr, tpr):
    fpr, tpr = np.asarray(fpr, dtype=float), np.asarray(tpr, dtype=float)
    if fpr.ndim != 1 or fpr.shape != tpr.shape or fpr.size < 2:
        raise ValueError(f"plot_roc: fpr and tpr must be 1-D of the same length >= 2, got {fpr.shape} and {tpr.shape}")
    for name, rates in (("fpr", fpr), ("tpr", tpr)):
        if not np.all((rates >= 0) & (rates <= 1)):
            raise ValueError(f"plot_roc: {name} must lie in [0, 1], got values from {rates.min()} to {rates.max()}")
    if np.any(np.diff(fpr) < 0):
        raise ValueError("plot_roc: fpr must be non-decreasing (sort the points by threshold)")
    return fpr, tpr
