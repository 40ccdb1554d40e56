"""Routers, one module per area (each under 500 lines)."""
