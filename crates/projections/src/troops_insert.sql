-- A page's new rows of the troop-levels read model (troops.rs), one array per column, in one
-- statement: the deployment versions ($1-$28), then the time-series points ($29-$54).
WITH versions AS (
    INSERT INTO troop_deployment_versions (
        deployment_id, stream_version, position, recorded_from, recorded_to, event_type,
        deploying, host, mission, current_estimate_id, current_low, current_best, current_high,
        current_words, current_qualifier, current_scope, current_as_of_start, current_as_of_end,
        current_precision, current_source, current_source_type, competing_count, competing,
        estimate_count, retracted_count, pending_change_count, next_change_by, state)
    SELECT deployment_id, stream_version, position, recorded_from, recorded_to, event_type,
           deploying, host, mission, current_estimate_id, current_low, current_best,
           current_high, current_words, current_qualifier, current_scope, current_as_of_start,
           current_as_of_end, current_precision, current_source, current_source_type,
           competing_count, competing::jsonb, estimate_count, retracted_count,
           pending_change_count, next_change_by, state::jsonb
      FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::timestamptz[], $5::timestamptz[],
                  $6::text[], $7::text[], $8::text[], $9::text[], $10::uuid[], $11::int8[],
                  $12::int8[], $13::int8[], $14::text[], $15::text[], $16::text[], $17::date[],
                  $18::date[], $19::text[], $20::text[], $21::text[], $22::int4[], $23::text[],
                  $24::int4[], $25::int4[], $26::int4[], $27::date[], $28::text[])
           AS r(deployment_id, stream_version, position, recorded_from, recorded_to, event_type,
                deploying, host, mission, current_estimate_id, current_low, current_best,
                current_high, current_words, current_qualifier, current_scope,
                current_as_of_start, current_as_of_end, current_precision, current_source,
                current_source_type, competing_count, competing, estimate_count,
                retracted_count, pending_change_count, next_change_by, state)
)
INSERT INTO troop_level_points (
    deployment_id, point_id, kind, stream_version, position, recorded_from, recorded_to,
    deploying, host, date, date_start, date_precision, low, best, high, words, qualifier, scope,
    source_name, source_type, retracted, reason, change_kind, change_status,
    milestone_negotiation, milestone_id)
SELECT deployment_id, point_id, kind, stream_version, position, recorded_from, recorded_to,
       deploying, host, date, date_start, date_precision, low, best, high, words, qualifier,
       scope, source_name, source_type, retracted, reason, change_kind, change_status,
       milestone_negotiation, milestone_id
  FROM unnest($29::uuid[], $30::uuid[], $31::text[], $32::int8[], $33::int8[],
              $34::timestamptz[], $35::timestamptz[], $36::text[], $37::text[], $38::date[],
              $39::date[], $40::text[], $41::int8[], $42::int8[], $43::int8[], $44::text[],
              $45::text[], $46::text[], $47::text[], $48::text[], $49::bool[], $50::text[],
              $51::text[], $52::text[], $53::uuid[], $54::uuid[])
       AS r(deployment_id, point_id, kind, stream_version, position, recorded_from, recorded_to,
            deploying, host, date, date_start, date_precision, low, best, high, words,
            qualifier, scope, source_name, source_type, retracted, reason, change_kind,
            change_status, milestone_negotiation, milestone_id)
