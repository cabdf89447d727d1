"""The coder review pages: HTML shells and the scripts that fill them from /api/review."""
