"""The scheduler service (nova-scheduler): picks a host with filters and weighers."""
