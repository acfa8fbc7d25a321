"""PyTorch re-implementations, written for this project, of the reference codes' published layouts: the
independent side of the alignment tests and benches. They need ``torch`` (CPU is enough), a test-only
dependency, imported only when a function runs."""
