"""NumPy twins of the benchmarked matrixslow models: the same training step, written directly in NumPy.

Each twin takes the matrixslow model's trainable values in the graph's order and orientation
(W of shape (out, in), b of shape (out, 1)), so a benchmark can start both from the same weights,
and ``gradients`` returns the mean loss over the batch and one gradient per value in that order.
``step`` adds an Adam update (bias-corrected, matrixslow's defaults). Data are row-major
batches: x of shape (B, features), images (B, H, W), sequences (B, T, features). The MLP and
softmax regression twin is ``numpy_mlp.NumpyMLP``.
tests/benchmark/test_numpy_models.py checks each twin's loss and gradients against matrixslow.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .numpy_adam import Adam

SLOPE = 0.1  # matrixslow's ReLU is leaky with slope 0.1


def leaky_relu(z):
    return np.maximum(z, SLOPE * z)  # z where z > 0, else SLOPE * z, written as matrixslow's ReLU computes it


def leaky_relu_slope(z):
    # cast as matrixslow's ReLU.vjp casts: a float64 slope would turn every gradient behind it to float64
    return np.where(z > 0, 1.0, SLOPE).astype(z.dtype)


def softmax_cross_entropy(logits, one_hot):
    """Mean cross-entropy of rows of logits against one-hot rows, and its gradient w.r.t. the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)  # no overflow in exp
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    count = len(logits)
    return -(one_hot * log_prob).sum() / count, (np.exp(log_prob) - one_hot) / count


class NumpyTwin:
    """A model's parameters (own copies of ``values``) and an Adam step over its ``gradients``."""

    def __init__(self, values, learning_rate=0.001):
        self.params = [np.array(value) for value in values]
        self.optimizer = Adam(self.params, learning_rate)

    def gradients(self, x, labels):
        raise NotImplementedError

    def step(self, x, labels):
        """Forward, backward and one Adam update on a batch; returns the mean loss."""
        loss, grads = self.gradients(x, labels)
        self.optimizer.update(grads)
        return loss


class NumpyLogisticRegression(NumpyTwin):
    """logit = x w^T + b; loss = log(1 + e^logit) - y logit, labels y in {0, 1} of shape (B,)."""

    def gradients(self, x, labels):
        w, b = self.params
        logits = x @ w.T + b
        y = labels[:, None]
        loss = np.mean(np.logaddexp(0.0, logits) - y * logits)
        d_logits = (0.5 * (1.0 + np.tanh(0.5 * logits)) - y) / len(x)  # logistic without overflow
        return loss, [d_logits.T @ x, d_logits.sum(axis=0, keepdims=True)]


def max_pool(maps, window, stride):
    """matrixslow's MaxPooling of (B, K, H, W) maps: a window centred every ``stride`` pixels, clipped.

    Returns the pooled maps and, for the backward pass, the (row, column) of each window's winner.
    """
    (kh, kw), (sh, sw) = window, stride
    height, width = maps.shape[-2:]
    out_h, out_w = -(-height // sh), -(-width // sw)
    top, left = kh // 2, kw // 2
    bottom = max(0, (out_h - 1) * sh + kh - top - height)
    right = max(0, (out_w - 1) * sw + kw - left - width)
    padded = np.pad(maps, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=-np.inf)
    windows = sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :out_h, :out_w]
    flat = windows.reshape(windows.shape[:4] + (kh * kw,))
    winner = flat.argmax(axis=-1)
    pooled = np.take_along_axis(flat, winner[..., None], axis=-1)[..., 0]
    rows = np.arange(out_h)[:, None] * sh + winner // kw - top
    cols = np.arange(out_w)[None, :] * sw + winner % kw - left
    return pooled, (rows, cols)


def max_pool_backward(grad, winners, shape):
    """Each pooled gradient goes to its window's winner; pixels that won several windows add up."""
    rows, cols = winners
    batch, kernels, height, width = shape
    maps = np.arange(batch)[:, None, None, None] * kernels + np.arange(kernels)[None, :, None, None]
    index = (maps * height + rows) * width + cols
    # bincount always sums in float64; cast back as matrixslow's MaxPooling.vjp does, so the float32
    # twin hands float32 on to the convolution's gradient, like the engine
    summed = np.bincount(index.ravel(), weights=grad.ravel(), minlength=batch * kernels * height * width)
    return summed.reshape(shape).astype(grad.dtype, copy=False)


class NumpyCNN(NumpyTwin):
    """matrixslow's ``cnn`` with one convolution layer and one hidden layer, on (B, H, W) images.

    Values in matrixslow's order: (kernel, bias) per kernel, then W, b of the hidden and output layers.
    Convolution is "same" cross-correlation, one scalar bias per kernel, leaky ReLU, then max pooling;
    the pooled maps are flattened kernel by kernel, row by row (matrixslow's Concat).
    """

    def __init__(self, values, kernels, pooling=((3, 3), (2, 2)), learning_rate=0.001):
        super().__init__(values, learning_rate)
        self.kernels, self.pooling = kernels, pooling

    def gradients(self, images, one_hot):
        count = self.kernels
        kernels = np.stack(self.params[0 : 2 * count : 2])  # (K, kh, kw)
        conv_bias = np.array([bias[0, 0] for bias in self.params[1 : 2 * count : 2]])
        w1, b1, w2, b2 = self.params[2 * count :]
        kh, kw = kernels.shape[1:]
        padded = np.pad(images, ((0, 0), (kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2)))
        windows = sliding_window_view(padded, (kh, kw), axis=(1, 2))  # (B, H, W, kh, kw), a view
        conv = np.tensordot(windows, kernels, axes=([3, 4], [1, 2])).transpose(0, 3, 1, 2)  # (B, K, H, W)
        conv = conv + conv_bias[None, :, None, None]
        maps = leaky_relu(conv)
        pooled, winners = max_pool(maps, *self.pooling)
        features = pooled.reshape(len(images), -1)
        hidden_in = features @ w1.T + b1.T
        hidden = leaky_relu(hidden_in)
        loss, d_logits = softmax_cross_entropy(hidden @ w2.T + b2.T, one_hot)

        d_hidden_in = (d_logits @ w2) * leaky_relu_slope(hidden_in)
        d_features = d_hidden_in @ w1
        d_maps = max_pool_backward(d_features.reshape(pooled.shape), winners, maps.shape)
        d_conv = d_maps * leaky_relu_slope(conv)
        d_kernels = np.tensordot(d_conv, windows, axes=([0, 2, 3], [0, 1, 2]))  # (K, kh, kw)
        d_conv_bias = d_conv.sum(axis=(0, 2, 3))
        grads = []
        for index in range(count):
            grads += [d_kernels[index], d_conv_bias[index].reshape(1, 1)]
        grads += [d_hidden_in.T @ features, d_hidden_in.sum(axis=0)[:, None]]
        grads += [d_logits.T @ hidden, d_logits.sum(axis=0)[:, None]]
        return loss, grads


class NumpyRNN(NumpyTwin):
    """matrixslow's ``rnn`` (leaky ReLU): h_1 = act(U x_0 + b), h_t = act(U x_{t-1} + W h_{t-1} + b), fc on h_T.

    Values in matrixslow's order: U, W, b, then the output layer's W, b. Sequences are (B, T, features).
    """

    def gradients(self, sequences, one_hot):
        u, w, b, w_out, b_out = self.params
        pre_activations, hiddens = [], []
        for step in range(sequences.shape[1]):
            z = sequences[:, step] @ u.T + b.T
            if hiddens:  # h_0 is zero: no W h term on the first step
                z = z + hiddens[-1] @ w.T
            pre_activations.append(z)
            hiddens.append(leaky_relu(z))
        loss, d_logits = softmax_cross_entropy(hiddens[-1] @ w_out.T + b_out.T, one_hot)

        d_u, d_w, d_b = np.zeros_like(u), np.zeros_like(w), np.zeros_like(b)
        d_hidden = d_logits @ w_out
        for step in range(sequences.shape[1] - 1, -1, -1):  # backpropagation through time
            d_z = d_hidden * leaky_relu_slope(pre_activations[step])
            d_u += d_z.T @ sequences[:, step]
            d_b += d_z.sum(axis=0)[:, None]
            if step > 0:
                d_w += d_z.T @ hiddens[step - 1]
                d_hidden = d_z @ w
        return loss, [d_u, d_w, d_b, d_logits.T @ hiddens[-1], d_logits.sum(axis=0)[:, None]]
