"""Reference checks: proof that the engine is right, not only that it runs.

- ``gradcheck``: backprop gradients against central finite differences, for every
  operator (``operator_cases``), every layer helper and model builder
  (``model_cases``) and, property-based, over random shapes (``strategies``).
- ``rows`` / ``table``: every classic model trained with matrixslow against the
  scikit-learn baseline a practitioner would use, on the same split
  (``python -m reference_checks``).
- ``onnx_rows``: every trained model exported to ONNX and run in onnxruntime, an implementation
  of every forward pass independent of the engine, against the engine's predictions
  (``python -m reference_checks --onnx``).
"""
