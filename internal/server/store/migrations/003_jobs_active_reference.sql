-- Finds the queued or running job of an image reference, so a registry
-- push notification or a periodic rescan does not queue a second one.
CREATE INDEX jobs_active_reference ON jobs (reference) WHERE state IN ('queued', 'running');
