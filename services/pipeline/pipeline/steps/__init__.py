"""One module per CLI step: argument parsing and orchestration; the work lives in pipeline/*.py."""
