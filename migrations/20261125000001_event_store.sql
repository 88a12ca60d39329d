-- The event store: the one source of truth of sitrep.
--
-- Every fact is an append-only row of `events`. Rows are never updated or deleted (a trigger refuses
-- it), each row is hash-linked to the previous event of its stream, and `feed_seals` periodically
-- seals the commit-ordered feed so that tampering by someone who bypasses the trigger is detected.

CREATE TABLE events (
    -- Global position: unique and increasing in *insert* order, not commit order. Readers of the
    -- whole log follow (tx_id, position) instead; see `events_feed_idx`.
    position        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The id of the transaction that wrote the row: the ordered feed reads only below the oldest
    -- running transaction, so a late commit is never skipped.
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    stream_type     text        NOT NULL CHECK (stream_type <> ''),
    stream_id       uuid        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version > 0),
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL CHECK (event_type <> ''),
    schema_version  integer     NOT NULL CHECK (schema_version > 0),
    payload         jsonb       NOT NULL,
    -- Valid time: when it happened in the world, with the precision the source gave.
    valid_from      timestamptz,
    valid_to        timestamptz,
    valid_precision text,
    -- Recorded time: when sitrep learned it (the appending transaction's time).
    recorded_at     timestamptz NOT NULL,
    recorded_by     text        NOT NULL CHECK (recorded_by <> ''),
    reason          text,
    causation_id    uuid,
    correlation_id  uuid,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    -- Hash link: hash = sha256(prev_hash || event_digest(row)); prev_hash is the hash of the previous
    -- event of the same stream (32 zero bytes for version 1).
    prev_hash       bytea       NOT NULL,
    hash            bytea       NOT NULL,
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_valid_span CHECK (valid_from IS NULL OR valid_to IS NULL OR valid_from <= valid_to)
);

CREATE INDEX events_feed_idx ON events (tx_id, position);

-- One field of the digest: length-prefixed so that no field's content can pass for another's.
CREATE FUNCTION event_digest_field(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN value IS NULL THEN '~' ELSE octet_length(value)::text || ':' || value END;

-- Microseconds since the epoch: a time's digest must not depend on the session's TimeZone.
CREATE FUNCTION event_digest_time(value timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (extract(epoch FROM value) * 1000000)::bigint::text;

-- The digest of everything an event says. Appends and verification both call this one function,
-- so what is hashed at write time is, by construction, what is checked later.
CREATE FUNCTION event_digest(
    stream_type text, stream_id uuid, stream_version bigint, event_id uuid, event_type text,
    schema_version integer, payload jsonb, valid_from timestamptz, valid_to timestamptz,
    valid_precision text, recorded_at timestamptz, recorded_by text, reason text,
    causation_id uuid, correlation_id uuid, metadata jsonb
) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN sha256(convert_to(
        event_digest_field(stream_type)
        || event_digest_field(stream_id::text)
        || event_digest_field(stream_version::text)
        || event_digest_field(event_id::text)
        || event_digest_field(event_type)
        || event_digest_field(schema_version::text)
        || event_digest_field(payload::text)
        || event_digest_field(event_digest_time(valid_from))
        || event_digest_field(event_digest_time(valid_to))
        || event_digest_field(valid_precision)
        || event_digest_field(event_digest_time(recorded_at))
        || event_digest_field(recorded_by)
        || event_digest_field(reason)
        || event_digest_field(causation_id::text)
        || event_digest_field(correlation_id::text)
        || event_digest_field(metadata::text),
        'UTF8'));

-- Seals over the commit-ordered feed: each covers the events after the previous seal's cursor up
-- to its own, with their count and a digest of (position, hash) in feed order, and is chained to
-- the previous seal. A per-stream chain cannot see a removed last event or a forged event placed
-- in the past of the feed; a seal can.
CREATE TABLE feed_seals (
    seal_no           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    after_tx          xid8,
    after_position    bigint,
    through_tx        xid8        NOT NULL,
    through_position  bigint      NOT NULL,
    event_count       bigint      NOT NULL CHECK (event_count > 0),
    -- The lowest and highest position among the sealed events, to name where a broken seal lies.
    min_position      bigint      NOT NULL,
    max_position      bigint      NOT NULL,
    events_digest     bytea       NOT NULL,
    prev_seal_hash    bytea       NOT NULL,
    seal_hash         bytea       NOT NULL,
    sealed_at         timestamptz NOT NULL DEFAULT now()
);

-- Append-only, enforced by the database itself.
CREATE FUNCTION refuse_mutation() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'SR001',
              HINT = 'Record a correction as a new event instead.';
END;
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();
CREATE TRIGGER feed_seals_append_only
    BEFORE UPDATE OR DELETE ON feed_seals
    FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
CREATE TRIGGER feed_seals_no_truncate
    BEFORE TRUNCATE ON feed_seals
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();
