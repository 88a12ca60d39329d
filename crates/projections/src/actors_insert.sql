-- A page's new actor version rows (actors.rs), one array per column; array-valued columns
-- come as array literals, one per row.
INSERT INTO actor_versions (
    actor_id, stream_version, position, recorded_from, recorded_to, name, actor_type, country,
    description, aliases, names, state)
SELECT actor_id, stream_version, position, recorded_from, recorded_to, name, actor_type, country,
       description, aliases::text[], names::text[], state::jsonb
  FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::timestamptz[], $5::timestamptz[],
              $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
              $12::text[])
       AS r(actor_id, stream_version, position, recorded_from, recorded_to, name, actor_type,
            country, description, aliases, names, state)
