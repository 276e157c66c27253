"""The messages of the Open Inference Protocol (KServe v2), generated from ``inference.proto``; never edit by hand.

They sit in a proto package of our own beside tritonclient's ``inference.*`` (see the .proto for why).
"""
