"""URLs are logged without their passwords, from the first start-up line on."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from nova_lite.cloud import Cloud
from nova_lite.config import Config
from nova_lite.log import mask_url, redact_secrets
from nova_lite.testing import TransportFactory

BROKER_PASSWORD = "Br0ker-S3cret@pw"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("amqp://nova:SECRET@rabbit:5672/nova", "amqp://nova:***@rabbit:5672/nova"),
        (f"amqps://nova:{BROKER_PASSWORD}@r/", "amqps://nova:***@r/"),
        ("amqp://guest@rabbit/", "amqp://guest@rabbit/"),
        ("memory://", "memory://"),
    ],
)
def test_mask_url_hides_the_password_only(url: str, masked: str) -> None:
    """The password (even one holding '@') is masked; user, host and path stay readable."""
    assert mask_url(url) == masked


def test_the_log_pipeline_masks_urls_in_any_value() -> None:
    """redact_secrets masks URL passwords inside strings, lists and dicts of an event."""
    event = {"event": "x", "note": "to amqp://a:pw123456@h/", "more": [{"u": "http://b:c@d"}]}

    redacted = redact_secrets(None, "info", event)

    assert "pw123456" not in repr(redacted) and ":c@" not in repr(redacted)


@pytest.mark.parametrize("broker", ["memory"], indirect=True)
async def test_cloud_started_shows_the_transport_without_its_password(
    broker: TransportFactory, tmp_path: Path
) -> None:
    """The all-in-one's cloud.started line names the broker URL with the password masked."""
    config = Config.load(
        environ={},
        state_path=str(tmp_path),
        transport_url=f"amqp://nova:{BROKER_PASSWORD}@rabbit.example.org:5672/nova",
        rpc=broker.rpc_options(),
    )
    with structlog.testing.capture_logs() as logs:
        async with Cloud(config, computes=1, transport=await broker.connect()):
            pass

    started = next(e for e in logs if e["event"] == "cloud.started")
    assert started["transport"] == "amqp://nova:***@rabbit.example.org:5672/nova"
    assert BROKER_PASSWORD not in repr(logs)
