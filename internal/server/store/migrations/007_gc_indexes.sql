-- Indexes retention GC needs: the scans of a reference newest first, the
-- scans of a package set, the jobs of a scan and of an upload (foreign
-- keys whose deletes otherwise scan the table), the images of a manifest.
CREATE INDEX scans_reference ON scans (reference, id DESC);
CREATE INDEX scans_set_hash ON scans (set_hash);
CREATE INDEX jobs_scan ON jobs (scan_id);
CREATE INDEX jobs_upload ON jobs (upload_id);
CREATE INDEX images_manifest ON images (manifest_id);
CREATE INDEX images_scan ON images (scan_id);
