"""The container server: object listings per container, stored in LMDB."""
