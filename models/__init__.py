"""Ranking: candidate codes and their evidence in, scored suggestions out."""
