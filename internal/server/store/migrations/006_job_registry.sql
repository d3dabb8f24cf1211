-- The registry host a job pulls from ('' for uploads), so workers can
-- bound the jobs running against one registry across every process.
ALTER TABLE jobs ADD COLUMN registry text NOT NULL DEFAULT '';
UPDATE jobs SET registry = CASE
        WHEN split_part(reference, '/', 1) ~ '[.:]' OR split_part(reference, '/', 1) = 'localhost' THEN split_part(reference, '/', 1)
        ELSE 'index.docker.io' END
    WHERE upload_id IS NULL AND reference NOT LIKE 'upload:%';
CREATE INDEX jobs_running_registry ON jobs (registry) WHERE state = 'running';
