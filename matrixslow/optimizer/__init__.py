"""Gradient-descent optimizers with the book's interface."""

from .base import Optimizer
from .rules import AdaGrad, Adam, GradientDescent, Momentum, RMSProp

__all__ = ["AdaGrad", "Adam", "GradientDescent", "Momentum", "Optimizer", "RMSProp"]
