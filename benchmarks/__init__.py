"""nova_lite's benchmark harness: rpc, boot, scheduler and scale scenarios (see README.md)."""
