"""Load harness: a WebSocket load generator, baseline servers, and a runner (see README)."""
