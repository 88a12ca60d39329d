-- A page's new rows of the negotiations read model (negotiations.rs), one array per column
-- (array-valued columns as array literals, one per row), in one statement:
-- negotiation_versions $1-$24,
-- negotiation_sessions $25-$43,
-- negotiation_working_groups $44-$55,
-- negotiation_positions $56-$68,
-- negotiation_milestone_versions $69-$86,
-- negotiation_agreements $87-$100.
WITH versions AS (
    INSERT INTO negotiation_versions (
        negotiation_id, stream_version, position, recorded_from, recorded_to, event_type,
        status, status_reason, title, topic, opened_start, opened_end, parties, mediators,
        actor_ids, session_count, working_group_count, position_count, milestone_count,
        open_milestone_count, next_milestone_due, agreement_count, last_session_date, state)
    SELECT negotiation_id, stream_version, position, recorded_from, recorded_to, event_type,
           status, status_reason, title, topic, opened_start, opened_end, parties::text[],
           mediators::text[], actor_ids::uuid[], session_count, working_group_count,
           position_count, milestone_count, open_milestone_count, next_milestone_due,
           agreement_count, last_session_date, state::jsonb
      FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::timestamptz[], $5::timestamptz[],
                  $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::date[],
                  $12::date[], $13::text[], $14::text[], $15::text[], $16::int4[], $17::int4[],
                  $18::int4[], $19::int4[], $20::int4[], $21::date[], $22::int4[], $23::date[],
                  $24::text[])
           AS r(negotiation_id, stream_version, position, recorded_from, recorded_to,
                event_type, status, status_reason, title, topic, opened_start, opened_end, parties,
                mediators, actor_ids, session_count, working_group_count, position_count,
                milestone_count, open_milestone_count, next_milestone_due, agreement_count,
                last_session_date, state)
), sessions AS (
    INSERT INTO negotiation_sessions (
        negotiation_id, session_id, stream_version, position, recorded_from, recorded_to,
        held_start, held_end, held_precision, level, working_group_id, venue_country,
        venue_admin1, venue_location, venue_site, participants, summary, outcome, sources)
    SELECT negotiation_id, session_id, stream_version, position, recorded_from, recorded_to,
           held_start, held_end, held_precision, level, working_group_id, venue_country,
           venue_admin1, venue_location, venue_site, participants::text[], summary, outcome,
           sources::text[]
      FROM unnest($25::uuid[], $26::uuid[], $27::int8[], $28::int8[], $29::timestamptz[],
                  $30::timestamptz[], $31::date[], $32::date[], $33::text[], $34::text[],
                  $35::uuid[], $36::text[], $37::text[], $38::text[], $39::uuid[], $40::text[],
                  $41::text[], $42::text[], $43::text[])
           AS r(negotiation_id, session_id, stream_version, position, recorded_from,
                recorded_to, held_start, held_end, held_precision, level, working_group_id,
                venue_country, venue_admin1, venue_location, venue_site, participants, summary,
                outcome, sources)
), working_groups AS (
    INSERT INTO negotiation_working_groups (
        negotiation_id, group_id, stream_version, position, recorded_from, recorded_to, name,
        mandate, members, member_actor_ids, formed_start, formed_end)
    SELECT negotiation_id, group_id, stream_version, position, recorded_from, recorded_to, name,
           mandate, members::text[], member_actor_ids::uuid[], formed_start, formed_end
      FROM unnest($44::uuid[], $45::uuid[], $46::int8[], $47::int8[], $48::timestamptz[],
                  $49::timestamptz[], $50::text[], $51::text[], $52::text[], $53::text[],
                  $54::date[], $55::date[])
           AS r(negotiation_id, group_id, stream_version, position, recorded_from, recorded_to,
                name, mandate, members, member_actor_ids, formed_start, formed_end)
), positions AS (
    INSERT INTO negotiation_positions (
        negotiation_id, stream_version, position, recorded_from, recorded_to, party,
        party_actor_id, statement, stated_start, stated_end, stated_precision, source_name,
        source_url)
    SELECT negotiation_id, stream_version, position, recorded_from, recorded_to, party,
           party_actor_id, statement, stated_start, stated_end, stated_precision, source_name,
           source_url
      FROM unnest($56::uuid[], $57::int8[], $58::int8[], $59::timestamptz[], $60::timestamptz[],
                  $61::text[], $62::uuid[], $63::text[], $64::date[], $65::date[], $66::text[],
                  $67::text[], $68::text[])
           AS r(negotiation_id, stream_version, position, recorded_from, recorded_to, party,
                party_actor_id, statement, stated_start, stated_end, stated_precision, source_name,
                source_url)
), milestones AS (
    INSERT INTO negotiation_milestone_versions (
        negotiation_id, milestone_id, stream_version, position, recorded_from, recorded_to,
        description, due_start, due_end, due_precision, committed_due_end, committed_on_start,
        committed_on_end, source_name, status, status_reason, status_effective_start,
        status_effective_end)
    SELECT negotiation_id, milestone_id, stream_version, position, recorded_from, recorded_to,
           description, due_start, due_end, due_precision, committed_due_end,
           committed_on_start, committed_on_end, source_name, status, status_reason,
           status_effective_start, status_effective_end
      FROM unnest($69::uuid[], $70::uuid[], $71::int8[], $72::int8[], $73::timestamptz[],
                  $74::timestamptz[], $75::text[], $76::date[], $77::date[], $78::text[],
                  $79::date[], $80::date[], $81::date[], $82::text[], $83::text[], $84::text[],
                  $85::date[], $86::date[])
           AS r(negotiation_id, milestone_id, stream_version, position, recorded_from,
                recorded_to, description, due_start, due_end, due_precision, committed_due_end,
                committed_on_start, committed_on_end, source_name, status, status_reason,
                status_effective_start, status_effective_end)
)
INSERT INTO negotiation_agreements (
    negotiation_id, agreement_id, stream_version, position, recorded_from, recorded_to, name,
    status, agreement_type, stage, signed_start, signed_end, provisions, sources)
SELECT negotiation_id, agreement_id, stream_version, position, recorded_from, recorded_to, name,
       status, agreement_type, stage, signed_start, signed_end, provisions::text[],
       sources::text[]
  FROM unnest($87::uuid[], $88::uuid[], $89::int8[], $90::int8[], $91::timestamptz[],
              $92::timestamptz[], $93::text[], $94::text[], $95::text[], $96::text[],
              $97::date[], $98::date[], $99::text[], $100::text[])
       AS r(negotiation_id, agreement_id, stream_version, position, recorded_from, recorded_to,
            name, status, agreement_type, stage, signed_start, signed_end, provisions, sources)
