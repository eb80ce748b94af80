"""The conformance runner: OpenStack's Tempest against a nova_lite all-in-one cloud.

``scripts/tempest`` (README, "Conformance") installs Tempest in its own virtual
environment, starts ``nova-lite all`` on RabbitMQ, provisions Tempest's accounts,
writes ``tempest.conf`` to match what nova_lite serves, runs a named group set or a
regular expression, and reports per Tempest module (and, for the interop guideline,
per capability). The modules, each with one concern:

- `groups`: the named group sets (``issue``, ``interop``, ``all``, ``ci``) as include lists.
- `interop`: the interop guideline's required tests (a checked-in list) and their verdicts.
- `cloud`: the all-in-one cloud process, its configuration and its clean-up.
- `accounts`: Tempest's pre-provisioned accounts, created through nova_lite's API.
- `tempest_conf`: ``tempest.conf``, every switch that differs from Tempest's defaults
  with the reason as a comment.
- `workspace`: the Tempest workspace: init, list, run (with a timeout), subunit to JSON.
- `subunit_json`: run by the Tempest venv's Python; a subunit stream to JSON records.
- `outcomes`: each selected test's outcome (passed, failed, skipped, not run).
- `causes`: why a test failed, grouped into a worklist.
- `report`: the per-module table, the markdown, the files a run leaves for diffing.
- `run`: one run, in order: cloud, accounts, configuration, list, run, stop.
- `cli`: ``python -m conformance`` (what ``scripts/tempest`` runs), and reporting again.
"""
