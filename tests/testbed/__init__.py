"""The offline test bed: real systemd nodes in docker containers, reached over SSH on 127.0.0.1."""
