"""The error raised for a model file that cannot be written, read or rebuilt."""


class ModelFileError(ValueError):
    """A model file is missing, corrupt, inconsistent, or names something that cannot be rebuilt."""
