"""Built-in strategies, one module each, registered through the `harness.strategies` entry-point
group exactly like third-party ones (see pyproject.toml)."""
