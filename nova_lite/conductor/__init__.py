"""The conductor service (nova-conductor): the only owner of the instance database."""
