"""The all-in-one cluster: a proxy, storage nodes and rings on one machine, one command."""
