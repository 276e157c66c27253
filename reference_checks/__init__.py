"""Reference checks: every operator's backprop gradient against central finite differences."""
