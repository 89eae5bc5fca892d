"""Core layer: models, settings and errors shared by every other layer."""
