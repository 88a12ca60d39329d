-- The negotiations read model (see negotiations.rs).
--
-- Every table is versioned by recorded time: a row holds from `recorded_from` until the next
-- version of the same thing was recorded (`recorded_to`, NULL for the current row). "Now" is
-- `recorded_to IS NULL`; "as known at T" is
-- `recorded_from <= T AND (recorded_to IS NULL OR recorded_to > T)`, the same on every table.
-- Sessions, working groups, positions and agreements are never amended by any event today, so
-- their `recorded_to` stays NULL; milestones change status and due date.

-- One row per version of each negotiation (one per event of its stream).
CREATE TABLE negotiation_versions (
    negotiation_id           uuid         NOT NULL,
    stream_version           bigint       NOT NULL,
    position                 bigint       NOT NULL,
    recorded_from            timestamptz  NOT NULL,
    recorded_to              timestamptz,
    -- The event that made this version (`SessionRecorded`, `NegotiationStatusChanged`, ...).
    event_type               text         NOT NULL,
    -- active | suspended | concluded | collapsed (not_opened before `NegotiationOpened`).
    status                   text         NOT NULL,
    status_reason            text,
    title                    text,
    topic                    text,
    opened_start             date,
    opened_end               date,
    -- Names of the parties and mediators; the Actor ids of those registered.
    parties                  text[]       NOT NULL,
    mediators                text[]       NOT NULL,
    actor_ids                uuid[]       NOT NULL,
    session_count            integer      NOT NULL,
    working_group_count      integer      NOT NULL,
    position_count           integer      NOT NULL,
    milestone_count          integer      NOT NULL,
    -- Milestones still outstanding (pending or postponed), and the earliest due date of those.
    open_milestone_count     integer      NOT NULL,
    next_milestone_due       date,
    agreement_count          integer      NOT NULL,
    -- The end of the latest session held.
    last_session_date        date,
    state                    jsonb        NOT NULL,
    PRIMARY KEY (negotiation_id, stream_version)
);

-- The projector's lookup of each negotiation's newest row.
CREATE UNIQUE INDEX negotiation_versions_current ON negotiation_versions (negotiation_id)
    WHERE recorded_to IS NULL;
-- The list of current processes by status, most recently active first.
CREATE INDEX negotiation_versions_current_status
    ON negotiation_versions (status, last_session_date) WHERE recorded_to IS NULL;
-- Current processes a party (by name) or a registered actor takes part in.
CREATE INDEX negotiation_versions_current_parties ON negotiation_versions USING gin (parties)
    WHERE recorded_to IS NULL;
CREATE INDEX negotiation_versions_current_actors ON negotiation_versions USING gin (actor_ids)
    WHERE recorded_to IS NULL;
-- "As known at T": versions by recorded time.
CREATE INDEX negotiation_versions_recorded ON negotiation_versions (recorded_from, recorded_to);

-- Sessions held, one row each (sessions in order: by `held_start`, then `stream_version`).
CREATE TABLE negotiation_sessions (
    negotiation_id    uuid         NOT NULL,
    session_id        uuid         NOT NULL,
    stream_version    bigint       NOT NULL,
    position          bigint       NOT NULL,
    recorded_from     timestamptz  NOT NULL,
    recorded_to       timestamptz,
    held_start        date         NOT NULL,
    held_end          date         NOT NULL,
    held_precision    text         NOT NULL,
    -- leaders | ministers | military | technical | working_group
    level             text         NOT NULL,
    working_group_id  uuid,
    venue_country     text,
    venue_admin1      text,
    venue_location    text,
    venue_site        uuid,
    participants      text[]       NOT NULL,
    summary           text,
    outcome           text,
    sources           text[]       NOT NULL,
    PRIMARY KEY (negotiation_id, session_id, stream_version)
);

-- A negotiation's sessions in order.
CREATE INDEX negotiation_sessions_order
    ON negotiation_sessions (negotiation_id, held_start, stream_version);
-- A calendar of sessions across negotiations.
CREATE INDEX negotiation_sessions_held ON negotiation_sessions (held_start);

-- Working groups formed, one row each.
CREATE TABLE negotiation_working_groups (
    negotiation_id    uuid         NOT NULL,
    group_id          uuid         NOT NULL,
    stream_version    bigint       NOT NULL,
    position          bigint       NOT NULL,
    recorded_from     timestamptz  NOT NULL,
    recorded_to       timestamptz,
    name              text         NOT NULL,
    mandate           text         NOT NULL,
    members           text[]       NOT NULL,
    member_actor_ids  uuid[]       NOT NULL,
    formed_start      date,
    formed_end        date,
    PRIMARY KEY (negotiation_id, group_id, stream_version)
);

-- Positions stated, one row each. The latest position of each party as known at T:
--   SELECT DISTINCT ON (party) ... WHERE negotiation_id = $1 AND <as of T>
--    ORDER BY party, stated_end DESC, stream_version DESC
CREATE TABLE negotiation_positions (
    negotiation_id    uuid         NOT NULL,
    stream_version    bigint       NOT NULL,
    position          bigint       NOT NULL,
    recorded_from     timestamptz  NOT NULL,
    recorded_to       timestamptz,
    -- The party or mediator as the negotiation registered it.
    party             text         NOT NULL,
    party_actor_id    uuid,
    statement         text         NOT NULL,
    stated_start      date         NOT NULL,
    stated_end        date         NOT NULL,
    stated_precision  text         NOT NULL,
    source_name       text         NOT NULL,
    source_url        text,
    PRIMARY KEY (negotiation_id, stream_version)
);

-- The latest positions per party of a negotiation.
CREATE INDEX negotiation_positions_latest
    ON negotiation_positions (negotiation_id, party, stated_end DESC, stream_version DESC);
-- What a registered actor has said, across negotiations.
CREATE INDEX negotiation_positions_actor ON negotiation_positions (party_actor_id, stated_end)
    WHERE party_actor_id IS NOT NULL;

-- One row per version of each timeline milestone: committed (pending), then each status
-- change (met, missed, postponed with a new due date, cancelled).
CREATE TABLE negotiation_milestone_versions (
    negotiation_id          uuid         NOT NULL,
    milestone_id            uuid         NOT NULL,
    stream_version          bigint       NOT NULL,
    position                bigint       NOT NULL,
    recorded_from           timestamptz  NOT NULL,
    recorded_to             timestamptz,
    description             text         NOT NULL,
    -- The due date now (moved by postponements) and as first committed to.
    due_start               date         NOT NULL,
    due_end                 date         NOT NULL,
    due_precision           text         NOT NULL,
    committed_due_end       date         NOT NULL,
    committed_on_start      date         NOT NULL,
    committed_on_end        date         NOT NULL,
    source_name             text         NOT NULL,
    -- pending | met | missed | postponed | cancelled; the latest change's reason and when it
    -- took effect in the world.
    status                  text         NOT NULL,
    status_reason           text,
    status_effective_start  date,
    status_effective_end    date,
    PRIMARY KEY (negotiation_id, milestone_id, stream_version)
);

-- The projector's lookup of each milestone's newest row.
CREATE UNIQUE INDEX negotiation_milestone_versions_current
    ON negotiation_milestone_versions (negotiation_id, milestone_id) WHERE recorded_to IS NULL;
-- A negotiation's milestones by due date.
CREATE INDEX negotiation_milestone_versions_due
    ON negotiation_milestone_versions (negotiation_id, due_end) WHERE recorded_to IS NULL;
-- Outstanding deadlines across negotiations (due soon, overdue).
CREATE INDEX negotiation_milestone_versions_outstanding
    ON negotiation_milestone_versions (due_end)
    WHERE recorded_to IS NULL AND status IN ('pending', 'postponed');
-- A negotiation's milestones as known at T.
CREATE INDEX negotiation_milestone_versions_recorded
    ON negotiation_milestone_versions (negotiation_id, recorded_from, recorded_to);

-- Agreements reached, one row each (PA-X type and stage).
CREATE TABLE negotiation_agreements (
    negotiation_id    uuid         NOT NULL,
    agreement_id      uuid         NOT NULL,
    stream_version    bigint       NOT NULL,
    position          bigint       NOT NULL,
    recorded_from     timestamptz  NOT NULL,
    recorded_to       timestamptz,
    name              text         NOT NULL,
    -- signed | initialled | unilateral
    status            text         NOT NULL,
    agreement_type    text         NOT NULL,
    stage             text         NOT NULL,
    signed_start      date         NOT NULL,
    signed_end        date         NOT NULL,
    provisions        text[]       NOT NULL,
    sources           text[]       NOT NULL,
    PRIMARY KEY (negotiation_id, agreement_id, stream_version)
);

-- Agreements across negotiations by date.
CREATE INDEX negotiation_agreements_signed ON negotiation_agreements (signed_start);
