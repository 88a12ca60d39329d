-- The actors and sites read model (see actors.rs): its tables, with the indexes the projector
-- itself needs; the query indexes are in actors_indexes.sql.

-- One row per actor event: the actor as it stood after it, from recorded_from until the
-- actor's next event was recorded (recorded_to, NULL for the current row).
CREATE TABLE actor_versions (
    actor_id        uuid        NOT NULL,
    stream_version  bigint      NOT NULL,
    position        bigint      NOT NULL,
    recorded_from   timestamptz NOT NULL,
    recorded_to     timestamptz,
    name            text,
    actor_type      text,
    country         text,
    description     text,
    aliases         text[]      NOT NULL,
    -- The name and the aliases, trimmed and lower-cased (Rust's to_lowercase): what importers
    -- and search match a spelling against.
    names           text[]      NOT NULL,
    state           jsonb       NOT NULL,
    PRIMARY KEY (actor_id, stream_version)
);

-- The projector's lookup of each actor's newest row.
CREATE UNIQUE INDEX actor_versions_current ON actor_versions (actor_id)
    WHERE recorded_to IS NULL;

-- One row per version of each affiliation: a new row each time an actor event records or
-- ends it; a retraction ends the current row without a successor (it never held).
-- valid_from / valid_until are the affiliation's own period (valid time, both ends included,
-- NULL = open); recorded_from / recorded_to are when sitrep knew it so.
CREATE TABLE affiliation_versions (
    actor_id        uuid        NOT NULL,
    affiliation_id  uuid        NOT NULL,
    stream_version  bigint      NOT NULL,
    position        bigint      NOT NULL,
    recorded_from   timestamptz NOT NULL,
    recorded_to     timestamptz,
    related_actor   uuid        NOT NULL,
    relation        text        NOT NULL,
    valid_from      date,
    valid_until     date,
    source          jsonb,
    PRIMARY KEY (actor_id, affiliation_id, stream_version)
);

-- The projector's lookup of each affiliation's newest row; an actor's affiliations.
CREATE UNIQUE INDEX affiliation_versions_current ON affiliation_versions (actor_id, affiliation_id)
    WHERE recorded_to IS NULL;

-- One row per site event, as actor_versions.
CREATE TABLE site_versions (
    site_id         uuid             NOT NULL,
    stream_version  bigint           NOT NULL,
    position        bigint           NOT NULL,
    recorded_from   timestamptz      NOT NULL,
    recorded_to     timestamptz,
    name            text,
    kind            text,
    country         text,
    admin1          text,
    latitude        double precision,
    longitude       double precision,
    precision       text,
    description     text,
    aliases         text[]           NOT NULL,
    operated_by     text[]           NOT NULL,
    names           text[]           NOT NULL,
    retired         boolean          NOT NULL,
    state           jsonb            NOT NULL,
    PRIMARY KEY (site_id, stream_version)
);

-- The projector's lookup of each site's newest row.
CREATE UNIQUE INDEX site_versions_current ON site_versions (site_id)
    WHERE recorded_to IS NULL;

-- Whether each incident that ever named an actor or changed status is current: 'active',
-- 'retracted' or 'merged' (current only, from the incident events).
CREATE TABLE incident_statuses (
    incident_id  uuid PRIMARY KEY,
    status       text NOT NULL
);

-- One row per version of each actor's part in an incident (incident, actor, role): how it is
-- known (attribution), from recorded_from until a change of it was recorded (recorded_to, NULL
-- for the current row). An incident's retraction or merge ends no row: incident_statuses says
-- whether it counts. "The actors of incident X as known at T" is a filter by recorded time.
CREATE TABLE involvement_versions (
    incident_id     uuid        NOT NULL,
    actor_id        uuid        NOT NULL,
    role            text        NOT NULL,
    stream_version  bigint      NOT NULL,
    position        bigint      NOT NULL,
    recorded_from   timestamptz NOT NULL,
    recorded_to     timestamptz,
    attribution     text        NOT NULL,
    PRIMARY KEY (incident_id, actor_id, role, stream_version)
);

-- The projector's lookup of each involvement's newest row, and of an incident's current ones.
CREATE UNIQUE INDEX involvement_versions_current ON involvement_versions (incident_id, actor_id, role)
    WHERE recorded_to IS NULL;

-- Each incident's actors by role, now (its current involvements); counted = the incident is
-- active. A view of the two tables above, which hold the same facts.
CREATE VIEW incident_actor_links AS
SELECT v.incident_id, v.actor_id, v.role, coalesce(s.status = 'active', false) AS counted
  FROM involvement_versions v
  LEFT JOIN incident_statuses s ON s.incident_id = v.incident_id
 WHERE v.recorded_to IS NULL;

-- Per actor (every registered actor, and any actor an incident names): how many active
-- incidents involve it in any role, and how many it claimed. Current only.
CREATE TABLE actor_incident_counts (
    actor_id   uuid    PRIMARY KEY,
    incidents  integer NOT NULL,
    claimed    integer NOT NULL
);
