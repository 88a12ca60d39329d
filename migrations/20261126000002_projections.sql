-- Projections: read models built from the ordered feed. Each projection's tables live in a schema
-- of their own per generation (rm_<projection>_<generation>), so that a rebuild fills a new
-- generation beside the live one and switches to it when it has caught up (blue/green).
CREATE TABLE projection_generations (
    projection      text        NOT NULL,
    generation      integer     NOT NULL CHECK (generation > 0),
    schema_name     text        NOT NULL UNIQUE,
    -- The projection code's version that built it: a new version is rebuilt into a new generation.
    version         integer     NOT NULL,
    status          text        NOT NULL CHECK (status IN ('building', 'live', 'retired')),
    -- The checkpoint: the feed cursor just past the last event applied, written in the same
    -- transaction as the read model's rows.
    cursor_tx       xid8        NOT NULL DEFAULT '0',
    cursor_position bigint      NOT NULL DEFAULT 0,
    events_applied  bigint      NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, generation)
);

-- At most one live generation per projection.
CREATE UNIQUE INDEX projection_generations_live ON projection_generations (projection)
    WHERE status = 'live';
