-- A job's kind: a scan reads the image from its registry (its layers from
-- the store when known); a rematch re-matches the stored packages of the
-- image's latest scan against the current vulnerability database and
-- records that as a new scan, with no registry or layer read (the
-- periodic rescan of known digests).
ALTER TABLE jobs ADD COLUMN kind text NOT NULL DEFAULT 'scan' CHECK (kind IN ('scan', 'rematch'));
