"""Property-based tests (hypothesis) over neurorep's public entry points."""
