"""The `medcode` command line."""
