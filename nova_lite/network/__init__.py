"""The network service (Neutron's role): networks, subnets, ports and IP allocation."""
