"""whctl: operate a real-time e-commerce data warehouse fed by change data capture."""

__version__ = "0.1.0"
