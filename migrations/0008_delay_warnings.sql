-- 0008: the optional delay warning (delivery.delay_warning, Postfix's delay_warning_time): a
-- queued message whose recipients are still deferred that long after it arrived gets one
-- RFC 3464 report with Action: delayed to its sender; this marks that it was sent.
ALTER TABLE outbound_messages ADD COLUMN delay_warned boolean NOT NULL DEFAULT false;
