-- The query indexes of the incidents read model (see incidents.rs). A rebuild creates them after
-- it has caught up, which is much faster than maintaining them row by row.
-- By place and by type.
CREATE INDEX incident_versions_current_place ON incident_versions (country, admin1, valid_start)
    WHERE recorded_to IS NULL AND status = 'active';
CREATE INDEX incident_versions_current_type ON incident_versions (event_type, sub_event_type, valid_start)
    WHERE recorded_to IS NULL AND status = 'active';
-- By actor, in any role.
CREATE INDEX incident_versions_current_actors ON incident_versions USING gin (actor_ids)
    WHERE recorded_to IS NULL AND status = 'active';
-- The next three hold every version, and serve the current view as well as "as known at T": a
-- query of current incidents checks the current rows' condition on each row it reads, which
-- costs a little where incidents were corrected many times. (Partial copies for the current
-- rows made a rebuild build three more indexes, a quarter of its index time, and every page
-- maintain three more.)
-- By when it ended ("since" filters).
CREATE INDEX incident_versions_end ON incident_versions (valid_end);
-- By what was attacked: the headline statistics (attacks on bases hosting coalition troops
-- since a date), now and as known at a past day (issue #6's benchmark), read the few versions of
-- attacks on bases rather than every version since a date.
CREATE INDEX incident_versions_target ON incident_versions (target_category, valid_end);
-- In start order: the list (newest first, read backwards) and an export's keyset pages (oldest
-- first) walk it and stop after a page, instead of sorting every version for each page.
CREATE INDEX incident_versions_start ON incident_versions (valid_start, incident_id);
