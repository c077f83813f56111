"""The account server: container listings per account, stored in LMDB."""
