-- The query indexes of the incidents read model (see incidents.rs). A rebuild creates them after
-- it has caught up, which is much faster than maintaining them row by row.
-- Current incidents by when they happened (lists newest first; "since" filters).
CREATE INDEX incident_versions_current_start ON incident_versions (valid_start, incident_id)
    WHERE recorded_to IS NULL AND status = 'active';
CREATE INDEX incident_versions_current_end ON incident_versions (valid_end)
    WHERE recorded_to IS NULL AND status = 'active';
-- By what was attacked (the headline: attacks on bases hosting coalition troops, since a date).
CREATE INDEX incident_versions_current_target ON incident_versions (target_category, valid_end)
    WHERE recorded_to IS NULL AND status = 'active';
-- By place and by type.
CREATE INDEX incident_versions_current_place ON incident_versions (country, admin1, valid_start)
    WHERE recorded_to IS NULL AND status = 'active';
CREATE INDEX incident_versions_current_type ON incident_versions (event_type, sub_event_type, valid_start)
    WHERE recorded_to IS NULL AND status = 'active';
-- By actor, in any role.
CREATE INDEX incident_versions_current_actors ON incident_versions USING gin (actor_ids)
    WHERE recorded_to IS NULL AND status = 'active';
-- "As known at T": every version by when it happened.
CREATE INDEX incident_versions_end ON incident_versions (valid_end);
-- "As known at T", by what was attacked: the headline statistics of a past day (issue #6's
-- benchmark) read the few versions of attacks on bases rather than every version since a date.
CREATE INDEX incident_versions_target ON incident_versions (target_category, valid_end);
-- "As known at T", in start order: an export's keyset pages (oldest first) and the list's
-- (newest first, read backwards) walk it and stop after a page, instead of sorting every
-- version visible at T for each page.
CREATE INDEX incident_versions_start ON incident_versions (valid_start, incident_id);
