"""One reader per community dataset format."""
