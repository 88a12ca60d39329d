-- The troop-levels read model (see troops.rs).
--
-- Both tables are versioned by recorded time: a row holds from `recorded_from` until the next
-- version of the same thing was recorded (`recorded_to`, NULL for the current row). "Now" is
-- `recorded_to IS NULL`; "as known at T" is
-- `recorded_from <= T AND (recorded_to IS NULL OR recorded_to > T)`.

-- One row per version of each troop deployment (one per event of its stream): who deploys
-- where for which mission, the current level chosen by the domain's rule
-- (`TroopDeployment::current_level()`), the competing estimates beside it, counts, and the
-- whole aggregate state the next page folds further events into.
CREATE TABLE troop_deployment_versions (
    deployment_id         uuid         NOT NULL,
    stream_version        bigint       NOT NULL,
    position              bigint       NOT NULL,
    recorded_from         timestamptz  NOT NULL,
    recorded_to           timestamptz,
    -- The event that made this version (`TroopLevelReported`, `EstimateRetracted`, ...).
    event_type            text         NOT NULL,
    deploying             text,
    host                  text,
    mission               text,
    -- The current level; all NULL while no estimate counts.
    current_estimate_id   uuid,
    current_low           bigint,
    current_best          bigint,
    current_high          bigint,
    current_words         text,
    current_qualifier     text,
    current_scope         text,
    current_as_of_start   date,
    current_as_of_end     date,
    current_precision     text,
    current_source        text,
    current_source_type   text,
    -- `TroopDeployment::competing_estimates()`: the live estimates describing the same time
    -- that the current one was preferred to, best ranked first, each as the domain's
    -- `TroopEstimate` (estimate_id, as_of, count, qualifier, scope, source, source_type).
    competing_count       integer      NOT NULL,
    competing             jsonb        NOT NULL,
    -- Estimates ever reported (retracted ones included) and of those retracted.
    estimate_count        integer      NOT NULL,
    retracted_count       integer      NOT NULL,
    -- Announced changes not yet completed or cancelled, and the earliest date one is due by.
    pending_change_count  integer      NOT NULL,
    next_change_by        date,
    state                 jsonb        NOT NULL,
    PRIMARY KEY (deployment_id, stream_version)
);

-- The projector's lookup of each deployment's newest row.
CREATE UNIQUE INDEX troop_deployment_versions_current ON troop_deployment_versions (deployment_id)
    WHERE recorded_to IS NULL;
-- Current levels in a host country (foreign troops in Iraq, in Syria), by deploying country.
CREATE INDEX troop_deployment_versions_current_host
    ON troop_deployment_versions (host, deploying, mission) WHERE recorded_to IS NULL;
-- Current levels of one deploying country's deployments abroad.
CREATE INDEX troop_deployment_versions_current_deploying
    ON troop_deployment_versions (deploying, host) WHERE recorded_to IS NULL;
-- "As known at T": versions by recorded time.
CREATE INDEX troop_deployment_versions_recorded
    ON troop_deployment_versions (recorded_from, recorded_to);

-- The time series of a deployment, for a step chart: one row per version of each estimate
-- (kind `estimate`, dated `as_of.end`; a retraction makes a new version with `retracted`),
-- of each announced change (kind `planned`, dated `by.end`, the target level; completion and
-- cancellation make new versions with `change_status` `completed` / `cancelled`), and of each
-- completion (kind `completed`, dated `completed.end`, the change's target level: the level
-- actually reached is reported as an estimate). The chart of what counts as known at T:
--   recorded_from <= T AND (recorded_to IS NULL OR recorded_to > T) AND NOT retracted
--   AND (kind <> 'planned' OR change_status = 'announced')
-- ordered by `date`.
CREATE TABLE troop_level_points (
    deployment_id          uuid         NOT NULL,
    -- The estimate's id, or the change's id (for `planned` and `completed`).
    point_id               uuid         NOT NULL,
    kind                   text         NOT NULL,
    stream_version         bigint       NOT NULL,
    position               bigint       NOT NULL,
    recorded_from          timestamptz  NOT NULL,
    recorded_to            timestamptz,
    deploying              text,
    host                   text,
    -- The day the point stands for (as_of.end / by.end / completed.end), and its span.
    date                   date         NOT NULL,
    date_start             date         NOT NULL,
    date_precision         text         NOT NULL,
    low                    bigint       NOT NULL,
    best                   bigint       NOT NULL,
    high                   bigint       NOT NULL,
    words                  text,
    -- Estimates only: how the source qualified the figure and what it counts.
    qualifier              text,
    scope                  text,
    source_name            text         NOT NULL,
    source_type            text         NOT NULL,
    -- An estimate retracted as wrong: kept, but no longer counted.
    retracted              boolean      NOT NULL,
    -- Why it was retracted (estimate) or cancelled (planned change).
    reason                 text,
    -- Changes only: withdrawal | arrival; announced | completed | cancelled; the negotiation
    -- milestone the change carries out.
    change_kind            text,
    change_status          text,
    milestone_negotiation  uuid,
    milestone_id           uuid,
    PRIMARY KEY (deployment_id, point_id, kind, stream_version)
);

-- The projector's lookup of each point's newest version.
CREATE UNIQUE INDEX troop_level_points_current ON troop_level_points (deployment_id, point_id, kind)
    WHERE recorded_to IS NULL;
-- A deployment's series as known now, in date order (the step chart).
CREATE INDEX troop_level_points_current_series ON troop_level_points (deployment_id, date)
    WHERE recorded_to IS NULL;
-- Every deployment in a host country over time (stacked charts of foreign troops in Iraq).
CREATE INDEX troop_level_points_current_host ON troop_level_points (host, date)
    WHERE recorded_to IS NULL;
-- A deployment's series as known at T.
CREATE INDEX troop_level_points_recorded
    ON troop_level_points (deployment_id, recorded_from, recorded_to);
