"""The provider node daemon: watches the chain, accepts orders, dispatches them to workers."""
