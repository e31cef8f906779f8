"""The internal object model: objects, label/field selectors, validation and errors. It knows no wire version."""
