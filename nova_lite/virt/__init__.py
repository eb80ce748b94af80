"""The hypervisor driver interface (Nova's ``nova/virt``)."""
