"""Pictures of a real training run: the trainer's history, a ROC metric's curve and the graph after a step.

The unit tests of each picture use hand-made inputs; here they are fed what the
trainer, the metrics and an optimizer actually produce, and must write PNGs.
"""

import numpy as np
import pytest
from sklearn import metrics as sk

import matrixslow as ms
from matrixslow.ops.metrics import ROC, ROC_AUC, Accuracy
from matrixslow.trainer import SimpleTrainer
from matrixslow.viz import plot_history, plot_roc

from .conftest import assert_png

EPOCHES = 3


@pytest.fixture
def trained(graph):
    """A logistic regression trained with a SimpleTrainer that evaluates Accuracy, ROC and ROC_AUC every epoch."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((160, 3))
    labels = ((x[:, 0] - x[:, 2] > 0) ^ (rng.random(160) < 0.15)).astype(float)[:, None, None]
    model = ms.model.logistic_regression(3)
    roc = ROC(model.predict, model.label)
    metrics = [Accuracy(model.predict, model.label), roc, ROC_AUC(model.predict, model.label)]
    optimizer = ms.optimizer.Adam(graph, model.loss, 0.05)
    trainer = SimpleTrainer(
        model.inputs,
        model.label,
        model.loss,
        optimizer,
        epoches=EPOCHES,
        batch_size=16,
        eval_on_train=True,
        metrics_ops=metrics,
        seed=0,
        verbose=False,
    )
    test_x, test_y = model.feed(x[100:]), labels[100:]
    trainer.train_and_eval(model.feed(x[:100]), labels[:100], test_x, test_y)
    return trainer, model, roc, test_x, test_y


def pixel_size(figure):
    return tuple((figure.get_size_inches() * figure.dpi).round().astype(int))


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_the_history_of_a_training_run_is_plotted(tmp_path, trained):
    trainer, *_ = trained
    path = tmp_path / "history.png"
    figure = plot_history(trainer.history, path=path)
    assert_png(path, *pixel_size(figure))
    loss_ax, metric_ax = figure.axes
    losses, metrics = lines_by_label(loss_ax), lines_by_label(metric_ax)
    assert set(losses) == {"loss", "val_loss"}
    assert set(metrics) == {"Accuracy", "ROC_AUC"}, "the ROC curve (an array per epoch) is no series"
    for lines in (losses, metrics):
        for name, line in lines.items():
            assert list(line.get_xdata()) == list(range(1, EPOCHES + 1))
            assert list(line.get_ydata()) == [record[name] for record in trainer.history], name


def test_the_roc_metric_of_a_training_run_is_plotted(tmp_path, trained):
    trainer, model, roc, test_x, test_y = trained
    path = tmp_path / "roc.png"
    figure = plot_roc(roc.fpr, roc.tpr, auc=trainer.history[-1]["ROC_AUC"], path=path)
    assert_png(path, *pixel_size(figure))
    curve = lines_by_label(figure.axes[0])[f"ROC (AUC = {trainer.history[-1]['ROC_AUC']:.3f})"]
    scores = trainer.predict(test_x, model.predict).ravel()
    fpr, tpr, _ = sk.roc_curve(test_y.ravel(), scores, drop_intermediate=False)
    np.testing.assert_allclose(curve.get_xdata(), fpr, atol=1e-12)
    np.testing.assert_allclose(curve.get_ydata(), tpr, atol=1e-12)


def test_the_graph_is_drawn_after_an_optimizer_step(tmp_path, graph, trained):
    trainer, *_ = trained
    trainer.optimizer.one_step()
    weights = ms.core.get_trainable_variables_from_graph(graph=graph)
    assert weights and all(np.linalg.norm(weight.grad) > 0 for weight in weights), "gradients to colour by"
    path = tmp_path / "graph.png"
    ax = graph.draw(path=path)
    figure = ax.figure
    assert_png(path, *pixel_size(figure))
    assert len(figure.axes) == 2, "the boxes and the gradient colour bar"
