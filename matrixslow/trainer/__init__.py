"""Trainers, the saver and training utilities."""

from .saver import ModelFileError, Saver
from .trainer import SimpleTrainer, Trainer

__all__ = ["ModelFileError", "Saver", "SimpleTrainer", "Trainer"]
