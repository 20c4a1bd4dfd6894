"""The analyses of the TypeScript analyzer for a researcher's own PyTorch model (run.watch, issue 12)."""
