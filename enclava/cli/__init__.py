"""The `enclava` CLI (typer + rich)."""
