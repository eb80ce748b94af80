"""The compute service (nova-compute): builds and runs instances on one host."""
