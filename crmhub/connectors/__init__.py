"""Plain-Python clients of the remote CRMs (no Django imports here)."""
