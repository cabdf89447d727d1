"""Labelled encounters in, model artifacts and evaluation reports out."""
