-- Outbound notifications when an image gains a CRITICAL finding: the
-- findings each image (manifest digest) was already notified of, so a
-- finding is announced once, and the outbox of messages still to deliver,
-- retried with backoff by whichever server process delivers them.
CREATE TABLE notified_findings (
    manifest_id bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    finding_id  text NOT NULL,
    notified_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (manifest_id, finding_id)
);

CREATE TABLE notifications (
    id           bigserial PRIMARY KEY,
    payload      bytea NOT NULL,             -- the JSON message
    attempts     integer NOT NULL DEFAULT 0,
    next_attempt timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    failed_at    timestamptz,                -- gave up after the last attempt
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_pending ON notifications (next_attempt) WHERE delivered_at IS NULL AND failed_at IS NULL;
