"""Temporal workflows and activities of a Formwerk case."""
