-- The hash links of one append as an array, for appends whose head is already known (a new
-- stream links to the genesis hash; a stream the store has just written or read links to the
-- hash it saw at the expected version). The same link as event_hash_chain:
-- hash = sha256(previous hash || content digest || int8send(version) || timestamptz_send(recorded_at)),
-- returned in order as one array so that the append statement can unnest it beside its other
-- arrays instead of joining a set-returning function (measured: about half the time of
-- event_hash_chain for 100 events).
CREATE FUNCTION event_hash_links(head bytea, head_version bigint, digests bytea[], recorded_at timestamptz)
    RETURNS bytea[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    recorded bytea := timestamptz_send(recorded_at);
    digest bytea;
    hash bytea := head;
    version bigint := head_version;
    hashes bytea[] := '{}';
BEGIN
    FOREACH digest IN ARRAY digests LOOP
        version := version + 1;
        hash := sha256(hash || digest || int8send(version) || recorded);
        hashes := hashes || hash;
    END LOOP;
    RETURN hashes;
END;
$$;
