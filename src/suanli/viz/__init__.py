"""Charts (an interface layer: draws result objects, models nothing)."""
