"""What the Open Inference Protocol (KServe v2) says about the served model, for its REST and gRPC front ends.

Versions are strings in v2: "" means the newest served, "N" version N if it is loaded (as a pinned
v1 request). Shapes in the metadata are the batch axis as -1 followed by one sample's dim, the
form a request for a batch takes; a request may also send one sample without the batch axis.
"""

import importlib.metadata

from .errors import InvalidRequest, ModelNotFound, shown, version_digits
from .v2_tensors import datatype_of

PLATFORM = "matrixslow"


def version_number(text):
    """The version a v2 ``version`` string asks for: None for "" (the newest), else its number."""
    if text == "":
        return None
    version = version_digits(text)
    if version is None or version < 1:
        raise InvalidRequest(
            f"model_version {shown(text)} is not a version: versions are numbered from 1, and '' asks for the newest"
        )
    return version


def server_metadata():
    """The v2 server metadata: our name and version, and no protocol extensions."""
    try:
        version = importlib.metadata.version("matrixslow")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        version = ""
    return {"name": PLATFORM, "version": version, "extensions": []}


def model_metadata(predictor, name, version=None):
    """The v2 model metadata of ``name`` at ``version`` (None: the newest); ModelNotFound naming what is not served."""
    predictor.check_name(name)
    model = predictor.model_for(version)
    datatype = datatype_of(model.dtype)
    return {
        "name": predictor.model_name,
        "versions": [str(version) for version in predictor.store.loaded_versions()],
        "platform": PLATFORM,
        "inputs": [
            {"name": input_name, "datatype": datatype, "shape": [-1, *dim]}
            for input_name, dim in model.input_dims().items()
        ],
        "outputs": [
            {"name": output_name, "datatype": datatype, "shape": [-1, *model.output_dims[output_name]]}
            for output_name in model.outputs
        ],
    }


def model_ready(predictor, name, version=None):
    """True when ``name`` at ``version`` is served, else the ModelNotFound saying what is."""
    predictor.check_name(name)
    predictor.model_for(version)
    return True


def is_model_ready(predictor, name, version_text):
    """``model_ready`` of a v2 version string as a bool: gRPC's ModelReady answers ready=false, not an error."""
    try:
        return model_ready(predictor, name, version_number(version_text))
    except (ModelNotFound, InvalidRequest):
        return False
