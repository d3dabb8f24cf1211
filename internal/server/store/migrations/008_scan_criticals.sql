-- The CRITICAL findings of a scan's own report (secrets, image and
-- configuration checks), which set_advisories does not hold: they are
-- announced like new CRITICAL vulnerabilities, keyed by their fingerprint
-- (finding.Fingerprint: stable across rebuilt layers and moved lines).
-- Scans stored before this migration have none, so upgrading announces
-- nothing old.
CREATE TABLE scan_criticals (
    scan_id     bigint NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    fingerprint text NOT NULL,
    finding     bytea NOT NULL,             -- the finding, JSON
    PRIMARY KEY (scan_id, fingerprint)
);
