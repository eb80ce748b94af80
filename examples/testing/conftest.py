"""Enable nova_lite's fixtures (broker, transport, clouds, memory_clouds, harness, ...)."""

pytest_plugins = ["nova_lite.testing.pytest_plugin"]
