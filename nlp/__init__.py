"""Text to mentions: sentences, sections, assertions, matched terms and candidate codes."""
