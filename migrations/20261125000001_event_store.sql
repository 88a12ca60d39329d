-- The event store: the one source of truth of sitrep.
--
-- Every fact is an append-only row of `events`. Rows are never updated or deleted (a trigger refuses
-- it), each row is hash-linked to the previous event of its stream, and `feed_seals` periodically
-- seals the commit-ordered feed, so that rows changed behind the trigger's back are detected unless
-- every later hash and seal was recomputed too (see store/integrity.rs).

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
    -- JSON as the store wrote it: canonical text (keys sorted, no white space), kept verbatim by
    -- the `json` type, so the digest covers exactly these bytes and reading it back costs no
    -- conversion. Cast to jsonb for ad-hoc queries.
    payload         json        NOT NULL,
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
    metadata        json        NOT NULL DEFAULT '{}'::json CHECK (json_typeof(metadata) = 'object'),
    -- Hash link: hash = sha256(prev_hash || content digest || version || recorded time), see
    -- event_hash_chain; prev_hash is the hash of the previous event of the same stream (32 zero
    -- bytes for version 1).
    prev_hash       bytea       NOT NULL,
    hash            bytea       NOT NULL,
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_valid_span CHECK (valid_from IS NULL OR valid_to IS NULL OR valid_from <= valid_to)
);

CREATE INDEX events_feed_idx ON events (tx_id, position);

-- The hash links of one append. `digests` are the events' content digests, computed by the store
-- (sha256 over every field but the version and the recorded time, see store/digest.rs); each
-- event's hash is sha256(previous hash || content digest || version || recorded time), the
-- version as int8send and the recorded time as timestamptz_send (microseconds since 2000,
-- independent of the session's TimeZone). Returns one row per event: its number in the append
-- (from 1), the hash it links to, and its own hash.
CREATE FUNCTION event_hash_chain(head bytea, head_version bigint, digests bytea[], recorded_at timestamptz)
    RETURNS TABLE (n bigint, prev_hash bytea, hash bytea)
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    recorded bytea := timestamptz_send(recorded_at);
BEGIN
    hash := head;
    FOR i IN 1 .. coalesce(array_length(digests, 1), 0) LOOP
        n := i;
        prev_hash := hash;
        hash := sha256(prev_hash || digests[i] || int8send(head_version + i) || recorded);
        RETURN NEXT;
    END LOOP;
END;
$$;

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
