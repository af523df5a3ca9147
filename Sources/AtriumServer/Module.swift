// AtriumServer: filled in by its owner; see docs/ARCHITECTURE.md.
