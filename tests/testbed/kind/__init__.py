"""The test bed, part 4: real kind clusters offline (kind from its Go module, a node image built here)."""
