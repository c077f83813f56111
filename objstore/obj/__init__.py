"""The object server: objects as files on each device, metadata in xattrs."""
