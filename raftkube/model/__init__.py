"""The internal object model, label/field selectors, validation, the v1beta1 conversion and errors."""
