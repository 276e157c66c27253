"""Trainers, the saver and training utilities."""

from .saver import ModelFileError, Saver
from .trainer import SimpleTrainer, Trainer

__all__ = ["ModelFileError", "Saver", "SimpleTrainer", "Trainer"]

# The book imports its distributed trainers from here (``from matrixslow.trainer import
# DistTrainerParameterServer``). They live in matrixslow.dist, which needs gRPC: imported on
# first use only, so ``import matrixslow`` still trains without gRPC installed.
_DIST_TRAINERS = ("DistTrainerParameterServer", "DistTrainerRingAllReduce")


def __getattr__(name):
    if name in _DIST_TRAINERS:
        from ..dist import trainers

        return getattr(trainers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
