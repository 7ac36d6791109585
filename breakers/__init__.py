"""Fault primitives: small functions that change a cluster through a journaled ChangeLog."""
