"""Timed exam sessions: one lab per student, each on the student's own lab cluster, one clock, one report."""
