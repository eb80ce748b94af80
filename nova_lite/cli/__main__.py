"""``python -m nova_lite.cli``: the same as the ``nova-lite`` command."""

from nova_lite.cli import main

main()
