"""Use cases: one plain function each, run inside a unit of work. Ports describe everything outside."""
