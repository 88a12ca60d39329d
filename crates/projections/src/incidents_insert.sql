-- A page's new version rows of incidents (incidents.rs), one array per column; array-valued
-- columns come as array literals, one per row.
INSERT INTO incident_versions (
    incident_id, stream_version, position, recorded_from, recorded_to, status, merged_into,
    event_type, sub_event_type, valid_start, valid_end, date_precision, country, admin1, admin2,
    location, latitude, longitude, geo_precision, site_id, target_category, means,
    fatalities_low, fatalities_best, fatalities_high, injuries_low, injuries_best, injuries_high,
    verification, actor_ids, claimant_ids, tags, external_refs)
SELECT incident_id, stream_version, position, recorded_from, recorded_to, status, merged_into,
       event_type, sub_event_type, valid_start, valid_end, date_precision, country, admin1, admin2,
       location, latitude, longitude, geo_precision, site_id, target_category, means::text[],
       fatalities_low, fatalities_best, fatalities_high, injuries_low, injuries_best, injuries_high,
       verification, actor_ids::uuid[], claimant_ids::uuid[], tags::text[], external_refs::text[]
  FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::timestamptz[], $5::timestamptz[], $6::text[],
              $7::uuid[], $8::text[], $9::text[], $10::date[], $11::date[], $12::text[], $13::text[],
              $14::text[], $15::text[], $16::text[], $17::float8[], $18::float8[], $19::text[],
              $20::uuid[], $21::text[], $22::text[], $23::int4[], $24::int4[], $25::int4[],
              $26::int4[], $27::int4[], $28::int4[], $29::text[], $30::text[], $31::text[],
              $32::text[], $33::text[])
       AS r(incident_id, stream_version, position, recorded_from, recorded_to, status, merged_into,
            event_type, sub_event_type, valid_start, valid_end, date_precision, country, admin1,
            admin2, location, latitude, longitude, geo_precision, site_id, target_category, means,
            fatalities_low, fatalities_best, fatalities_high, injuries_low, injuries_best,
            injuries_high, verification, actor_ids, claimant_ids, tags, external_refs)
