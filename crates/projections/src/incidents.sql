-- The incidents read model (see incidents.rs): one row per version of each incident.
CREATE TABLE incident_versions (
    incident_id      uuid             NOT NULL,
    stream_version   bigint           NOT NULL,
    position         bigint           NOT NULL,
    recorded_from    timestamptz      NOT NULL,
    recorded_to      timestamptz,
    status           text             NOT NULL,
    merged_into      uuid,
    event_type       text,
    sub_event_type   text,
    valid_start      date,
    valid_end        date,
    date_precision   text,
    country          text,
    admin1           text,
    admin2           text,
    location         text,
    latitude         double precision,
    longitude        double precision,
    geo_precision    text,
    site_id          uuid,
    target_category  text,
    means            text[]           NOT NULL,
    fatalities_low   integer,
    fatalities_best  integer,
    fatalities_high  integer,
    injuries_low     integer,
    injuries_best    integer,
    injuries_high    integer,
    verification     text             NOT NULL,
    actor_ids        uuid[]           NOT NULL,
    claimant_ids     uuid[]           NOT NULL,
    tags             text[]           NOT NULL,
    external_refs    text[]           NOT NULL,
    PRIMARY KEY (incident_id, stream_version)
);

-- The projector's lookup of each incident's newest row.
CREATE UNIQUE INDEX incident_versions_current ON incident_versions (incident_id)
    WHERE recorded_to IS NULL;
