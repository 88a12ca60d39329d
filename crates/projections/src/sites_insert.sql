-- A page's new site version rows (actors.rs), one array per column; array-valued columns
-- come as array literals, one per row.
INSERT INTO site_versions (
    site_id, stream_version, position, recorded_from, recorded_to, name, kind, country, admin1,
    latitude, longitude, precision, description, aliases, operated_by, names, retired, state)
SELECT site_id, stream_version, position, recorded_from, recorded_to, name, kind, country, admin1,
       latitude, longitude, precision, description, aliases::text[], operated_by::text[],
       names::text[], retired, state::jsonb
  FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::timestamptz[], $5::timestamptz[],
              $6::text[], $7::text[], $8::text[], $9::text[], $10::float8[], $11::float8[],
              $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::bool[],
              $18::text[])
       AS r(site_id, stream_version, position, recorded_from, recorded_to, name, kind, country,
            admin1, latitude, longitude, precision, description, aliases, operated_by, names,
            retired, state)
