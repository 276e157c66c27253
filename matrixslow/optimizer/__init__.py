"""Gradient-descent optimizers with the book's interface."""

from .base import Optimizer
from .rules import BOOK_ADAM, AdaGrad, Adam, GradientDescent, Momentum, RMSProp

__all__ = ["BOOK_ADAM", "AdaGrad", "Adam", "GradientDescent", "Momentum", "Optimizer", "RMSProp"]
