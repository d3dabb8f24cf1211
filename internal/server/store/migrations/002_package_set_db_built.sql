-- The build time of the vulnerability database a package set was matched
-- against: a set already matched against the same (or a newer) database is
-- not matched again when another image with the same packages is scanned.
ALTER TABLE package_sets ADD COLUMN db_built timestamptz;
