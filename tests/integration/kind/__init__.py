"""kind clusters made by `lab cluster up --provider kind`, for real (tests.testbed.kind)."""
