"""The S3 API over the Swift-style cluster.

A bucket is a container of the caller's account, a key is an object, a
multipart upload is a static large object.  ``middleware.S3Api`` (pipeline
name ``s3api``, right of the gatekeeper and left of auth) recognises S3
requests by their signature, checks it with the secret the auth filter holds
for the access key (``auth.s3_credentials``), and answers each operation with
sub-requests through the rest of the pipeline made as that user, so every ACL
of the Swift API applies to S3 as well.
"""
