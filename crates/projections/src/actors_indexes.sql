-- The query indexes of the actors and sites read model (see actors.rs). A rebuild creates
-- them after it has caught up, which is much faster than maintaining them row by row.

-- The actor list, alphabetically, filtered by type and country.
CREATE INDEX actor_versions_current_name ON actor_versions (name, actor_id)
    WHERE recorded_to IS NULL;
CREATE INDEX actor_versions_current_type ON actor_versions (actor_type, country)
    WHERE recorded_to IS NULL;
-- "Which actor is called X" (any spelling): names @> ARRAY['x'].
CREATE INDEX actor_versions_current_names ON actor_versions USING gin (names)
    WHERE recorded_to IS NULL;
-- "As known at T": versions by recorded time.
CREATE INDEX actor_versions_recorded ON actor_versions (recorded_from, recorded_to);

-- The members (allies, proxies, splinters) of an actor: related_actor = $1 AND relation = ...
CREATE INDEX affiliation_versions_current_related ON affiliation_versions (related_actor, relation)
    WHERE recorded_to IS NULL;
-- "As known at T".
CREATE INDEX affiliation_versions_recorded ON affiliation_versions (recorded_from, recorded_to);

-- Sites by place (the site picker of a country or province) and on a map (bounding box).
CREATE INDEX site_versions_current_place ON site_versions (country, admin1, name)
    WHERE recorded_to IS NULL;
CREATE INDEX site_versions_current_point ON site_versions (latitude, longitude)
    WHERE recorded_to IS NULL AND latitude IS NOT NULL;
-- "Which site is called X": names @> ARRAY['x'].
CREATE INDEX site_versions_current_names ON site_versions USING gin (names)
    WHERE recorded_to IS NULL;
-- "As known at T".
CREATE INDEX site_versions_recorded ON site_versions (recorded_from, recorded_to);

-- "The most active actors" and "the most prolific claimants".
CREATE INDEX actor_incident_counts_incidents ON actor_incident_counts (incidents DESC, actor_id);
CREATE INDEX actor_incident_counts_claimed ON actor_incident_counts (claimed DESC, actor_id);
