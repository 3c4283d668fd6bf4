"""The pure modules the fake upstreams' container and the host share, imported the normal way by both:
gomod (module fixtures, zips, h1 hashes), sumdb (note keys and signatures, the tree)."""
