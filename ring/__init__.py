"""The consistent-hashing ring: which devices hold each account, container and object."""
