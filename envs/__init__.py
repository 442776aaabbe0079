"""Environments for vldac (filled in by the env issues)."""
