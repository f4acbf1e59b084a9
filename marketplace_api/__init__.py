"""The marketplace API: listings, catalogue, orders and report verification over HTTP."""
