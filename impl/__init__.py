"""regspec.impl: the threaded runtime; it arrives with issue 3."""
