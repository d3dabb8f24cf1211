-- kensa server schema, version 1.
--
-- images (a repository reference, e.g. registry/app:1.2) point at the
-- manifest they resolved to when last scanned; a manifest lists its layers
-- by position; a layer, keyed by DiffID plus blob digest and analyzer
-- versions, holds the walk's facts once, however many images share it.
-- Packages are stored once each; a package set (the packages of one image
-- after its layers are merged) is content-addressed, shared by every
-- manifest that resolves to the same packages, and carries the
-- vulnerability findings matched against it, so those too are stored once.

CREATE TABLE layers (
    key        text PRIMARY KEY,            -- layerfs cache key
    diff_id    text NOT NULL,
    facts      bytea NOT NULL,              -- layerfs.MarshalFacts
    reads      integer NOT NULL DEFAULT 1,  -- times a walk read this layer
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX layers_diff_id ON layers (diff_id);

CREATE TABLE packages (
    id          bigserial PRIMARY KEY,
    hash        bytea NOT NULL UNIQUE,      -- sha256 of data
    ecosystem   text NOT NULL,              -- OSV ecosystem without release
    name        text NOT NULL,              -- vulndb.NormalizeName
    source_name text NOT NULL,              -- vulndb.NormalizeName, '' if none
    data        bytea NOT NULL              -- inventory.Package JSON
);
CREATE INDEX packages_name ON packages (ecosystem, name);
CREATE INDEX packages_source_name ON packages (ecosystem, source_name);

CREATE TABLE package_sets (
    hash        bytea PRIMARY KEY,          -- sha256 of os + sorted package ids
    package_ids bigint[] NOT NULL,
    os          bytea,                      -- inventory.OS JSON
    vulns       bytea NOT NULL,             -- matched findings + notes JSON
    matched_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX package_sets_ids ON package_sets USING gin (package_ids);

CREATE TABLE set_advisories (
    set_hash    bytea NOT NULL REFERENCES package_sets (hash) ON DELETE CASCADE,
    advisory_id text NOT NULL,
    severity    text NOT NULL,
    PRIMARY KEY (set_hash, advisory_id)
);
CREATE INDEX set_advisories_id ON set_advisories (advisory_id);

CREATE TABLE manifests (
    id         bigserial PRIMARY KEY,
    digest     text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE manifest_layers (
    manifest_id bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    idx         integer NOT NULL,
    layer_key   text NOT NULL REFERENCES layers (key),
    PRIMARY KEY (manifest_id, idx)
);
CREATE INDEX manifest_layers_key ON manifest_layers (layer_key);

CREATE TABLE scans (
    id          bigserial PRIMARY KEY,
    manifest_id bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    reference   text NOT NULL,
    set_hash    bytea REFERENCES package_sets (hash),
    report      bytea NOT NULL,             -- JSON report without packages and vulnerabilities
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scans_manifest ON scans (manifest_id, id DESC);

CREATE TABLE images (
    reference   text PRIMARY KEY,
    manifest_id bigint NOT NULL REFERENCES manifests (id),
    scan_id     bigint NOT NULL REFERENCES scans (id),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE uploads (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    data       bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    reference    text NOT NULL,             -- image reference, or the upload's name
    upload_id    bigint REFERENCES uploads (id) ON DELETE SET NULL,
    state        text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 5,
    run_after    timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz,
    worker       text,
    error        text,
    scan_id      bigint REFERENCES scans (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX jobs_ready ON jobs (run_after) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';

CREATE TABLE tokens (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    hash       bytea NOT NULL UNIQUE,       -- sha256 of the token
    scopes     text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
