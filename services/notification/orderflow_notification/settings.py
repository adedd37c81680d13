"""The notification service's settings (environment variables `NOTIFICATION_*`)."""

from __future__ import annotations

from orderflow_runtime.settings import OffPathSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class NotificationSettings(OffPathSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore")

    service_name: str = Field(default="notification", description="Service name; consumer group.")
    http_port: int = Field(default=8006, description="HTTP port (0: no HTTP server).")

    smtp_host: str = Field(default="127.0.0.1", description="SMTP server for email notices.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP server port.")
    smtp_from: str = Field(
        default="orders@orderflow.dev",
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="Sender address of every email; its domain also ends each Message-ID.",
    )
    smtp_username: str | None = Field(default=None, description="SMTP login, if required.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the connection (STARTTLS).")
    smtp_timeout_s: float = Field(default=10.0, gt=0, description="SMTP socket timeout.")
    smtp_keepalive_s: float = Field(
        default=30.0,
        ge=0,
        description="How long an idle SMTP connection is kept for the next email (0: a "
        "connection per email).",
    )

    sms_webhook_url: str | None = Field(
        default=None,
        description="SMS provider webhook (POST JSON {to, text}); unset: no SMS notices.",
    )
    sms_timeout_s: float = Field(default=5.0, gt=0, description="SMS webhook timeout.")

    send_max_attempts: int = Field(
        default=3, ge=1, le=10, description="Attempts per notice on transient errors."
    )
    send_retry_delay_s: float = Field(
        default=0.5, ge=0, description="First delay between attempts; doubles each time."
    )
    side_effects: bool = Field(
        default=True,
        description="False: send nothing: no dispatcher, no email or SMS transport (a sandbox "
        "copy of the service, `orderflow replay`).",
    )
    dispatch_poll_s: float = Field(
        default=0.5, gt=0, description="How often the dispatcher looks for pending notices."
    )
    dispatch_batch_size: int = Field(default=100, ge=1, description="Notices per dispatch round.")
    dispatch_concurrency: int = Field(
        default=16,
        ge=1,
        le=32,
        description="Orders whose notices are sent at the same time: also the most notices "
        "a crash can leave with an unknown outcome (failed at the next start, never re-sent).",
    )

    @property
    def message_id_domain(self) -> str:
        return self.smtp_from.rsplit("@", 1)[1]
