//! The incident mutations: one per command of the domain's incident aggregate. Each runs the
//! command through the domain's [`CommandHandler`] (which validates before it appends, checks
//! `expectedVersion`, and replays a retried `idempotencyKey`), then waits for the read models to
//! apply the new events (read-your-writes) and answers with the incident as the incidents read
//! model now shows it.
//!
//! Inputs mirror the domain's commands field for field; the domain checks every rule, and its
//! field paths come back as paths into the input (`input.facts.place.coordinates.latitude`).

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use sitrep_domain::handler::{CommandMeta, Executed};
use sitrep_domain::model::incident::{
    self as domain, ExternalRef, Incident as IncidentAggregate, IncidentCommand, IncidentFacts,
};
use sitrep_domain::model::values::{
    Coordinates, CountryCode, EventTime, Place, Source, UncertainCount,
};
use sitrep_projections::status::wait_until_applied;
use uuid::Uuid;

use crate::context::ApiContext;
use crate::error::ApiError;
use crate::incidents::{find_incident, pool, Incident};
use crate::vocab::{
    ActorRole, AttributionStatus, DatePrecision, EventType, GeoPrecision, Means, RetractionKind,
    SourceScale, SubEventType, TargetCategory, VerificationStatus,
};

/// The namespace of incident ids derived from a report's idempotency key.
const REPORT_KEY_NAMESPACE: Uuid = Uuid::from_u128(0x5173_d3e0_6b1f_4c2a_9d7e_0000_0000_0001);

/// Who the store records as the author of a change until requests carry an identity.
const ANONYMOUS: &str = "anonymous";

/// The incident mutations.
#[derive(Default)]
pub struct IncidentMutation;

#[Object]
impl IncidentMutation {
    /// Records a new incident (`incidentId` may be chosen by the client, so that a retry cannot
    /// report it twice; otherwise the server picks one).
    async fn report_incident(
        &self,
        ctx: &Context<'_>,
        input: ReportIncidentInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let id = match (input.incident_id, &input.options.idempotency_key) {
            (Some(id), _) => id,
            // A retry must land on the same incident: its id follows from the key.
            (None, Some(key)) => Uuid::new_v5(&REPORT_KEY_NAMESPACE, key.as_bytes()),
            (None, None) => Uuid::now_v7(),
        };
        let command = domain::ReportIncident {
            facts: input.facts.into_domain("input.facts")?,
            actors: input
                .actors
                .unwrap_or_default()
                .into_iter()
                .map(ActorInvolvementInput::into_domain)
                .collect(),
            sources: input
                .sources
                .unwrap_or_default()
                .into_iter()
                .map(SourceInput::into_domain)
                .collect(),
        };
        Ok(execute(ctx, id, command.into(), &input.options).await?)
    }

    /// Revises the casualty figures, with a reason (and the source of the new figures).
    async fn revise_casualties(
        &self,
        ctx: &Context<'_>,
        input: ReviseCasualtiesInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::ReviseCasualties {
            fatalities: input
                .fatalities
                .map(|c| c.into_domain("input.fatalities"))
                .transpose()?,
            injuries: input
                .injuries
                .map(|c| c.into_domain("input.injuries"))
                .transpose()?,
            source: input.source.map(SourceInput::into_domain),
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Records an actor's part in an incident (a claim, an attribution, a suspicion, a target),
    /// or changes how it is known (with a reason).
    async fn record_claim(
        &self,
        ctx: &Context<'_>,
        input: RecordClaimInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::RecordClaim {
            actor: input.actor,
            role: input.role.into(),
            attribution: input.attribution.into(),
            source: input.source.map(SourceInput::into_domain),
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Adds a source to an incident.
    async fn attach_source(
        &self,
        ctx: &Context<'_>,
        input: AttachSourceInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::AttachSource {
            source: input.source.into_domain(),
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Changes whether an incident is verified, with a reason.
    async fn set_verification(
        &self,
        ctx: &Context<'_>,
        input: SetVerificationInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::SetVerification {
            status: input.status.into(),
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Takes an incident out of current views, with a kind and a reason; its history stays.
    async fn retract_incident(
        &self,
        ctx: &Context<'_>,
        input: RetractIncidentInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::RetractIncident {
            kind: input.kind.into(),
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Brings a retracted incident back, with a reason.
    async fn restore_incident(
        &self,
        ctx: &Context<'_>,
        input: RestoreIncidentInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::RestoreIncident {
            reason: input.reason,
        };
        Ok(execute(ctx, input.incident_id, command.into(), &input.options).await?)
    }

    /// Merges a duplicate incident into another, with a reason. Final.
    async fn merge_incidents(
        &self,
        ctx: &Context<'_>,
        input: MergeIncidentsInput,
    ) -> async_graphql::Result<IncidentPayload> {
        let command = domain::MergeIncident {
            into: input.into,
            reason: input.reason,
        };
        Ok(execute(ctx, input.duplicate_id, command.into(), &input.options).await?)
    }
}

/// Runs `command` on incident `id`, waits for the read models, and answers.
async fn execute(
    ctx: &Context<'_>,
    id: Uuid,
    command: IncidentCommand,
    options: &CommandOptions,
) -> Result<IncidentPayload, ApiError> {
    let api = ctx
        .data::<ApiContext>()
        .map_err(|e| ApiError::internal(e.message))?;
    let meta = options.meta()?;
    let executed: Executed<IncidentAggregate> = api.handler.execute(id, &command, &meta).await?;
    let caught_up = wait_until_applied(api.store.pool(), &executed.positions, api.read_your_writes)
        .await
        .is_ok();
    Ok(IncidentPayload {
        incident_id: id,
        version: i32::try_from(executed.version).unwrap_or(i32::MAX),
        event_ids: executed.event_ids,
        recorded_at: executed.recorded_at,
        replayed: executed.replayed,
        caught_up,
    })
}

/// What every incident mutation answers.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct IncidentPayload {
    pub incident_id: Uuid,
    /// The incident's version after the mutation (the next `expectedVersion`).
    pub version: i32,
    /// The events appended (for a replayed request: those the first request appended).
    pub event_ids: Vec<Uuid>,
    pub recorded_at: DateTime<Utc>,
    /// True when this was a retry with an `idempotencyKey` already used: nothing was appended.
    pub replayed: bool,
    /// True when the read models had applied the change before this answer; false when they
    /// did not within the server's wait, and `incident` may not show it yet.
    pub caught_up: bool,
}

#[ComplexObject]
impl IncidentPayload {
    /// The incident as the incidents read model shows it now (null if it is not there yet).
    async fn incident(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Incident>> {
        Ok(find_incident(pool(ctx)?, self.incident_id, None).await?)
    }
}

/// Conditions every mutation accepts.
#[derive(InputObject, Default, Debug)]
pub struct CommandOptions {
    /// The incident's version the client based the change on; a different version fails with
    /// `CONFLICT` (saying the actual one) and changes nothing.
    pub expected_version: Option<i32>,
    /// A key the client makes up for this request (at most 200 characters): a retry with the
    /// same key returns the first answer and appends nothing.
    pub idempotency_key: Option<String>,
    /// Ties this change to others of one piece of work (an import, an editor's session).
    pub correlation_id: Option<Uuid>,
}

impl CommandOptions {
    fn meta(&self) -> Result<CommandMeta, ApiError> {
        let expected_version = self
            .expected_version
            .map(|v| {
                u64::try_from(v).map_err(|_| {
                    ApiError::bad_input("input.expectedVersion", "must not be negative")
                })
            })
            .transpose()?;
        Ok(CommandMeta {
            recorded_by: ANONYMOUS.to_owned(),
            expected_version,
            idempotency_key: self.idempotency_key.clone(),
            correlation_id: self.correlation_id,
            causation_id: None,
        })
    }
}

/// A new incident.
#[derive(InputObject)]
pub struct ReportIncidentInput {
    /// Chosen by the client; when left out, derived from `idempotencyKey` if there is one (so a
    /// retry reports the same incident), else picked by the server.
    pub incident_id: Option<Uuid>,
    pub facts: IncidentFactsInput,
    pub actors: Option<Vec<ActorInvolvementInput>>,
    pub sources: Option<Vec<SourceInput>>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(InputObject)]
pub struct ReviseCasualtiesInput {
    pub incident_id: Uuid,
    /// Left out: unchanged.
    pub fatalities: Option<CountInput>,
    /// Left out: unchanged.
    pub injuries: Option<CountInput>,
    pub source: Option<SourceInput>,
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(InputObject)]
pub struct RecordClaimInput {
    pub incident_id: Uuid,
    pub actor: Uuid,
    pub role: ActorRole,
    pub attribution: AttributionStatus,
    pub source: Option<SourceInput>,
    /// Needed to change how a recorded part is known.
    pub reason: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(InputObject)]
pub struct AttachSourceInput {
    pub incident_id: Uuid,
    pub source: SourceInput,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(InputObject)]
pub struct SetVerificationInput {
    pub incident_id: Uuid,
    pub status: VerificationStatus,
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(InputObject)]
pub struct RetractIncidentInput {
    pub incident_id: Uuid,
    pub kind: RetractionKind,
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(InputObject)]
pub struct RestoreIncidentInput {
    pub incident_id: Uuid,
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

#[derive(InputObject)]
pub struct MergeIncidentsInput {
    /// The duplicate, which is folded into `into` and leaves current views.
    pub duplicate_id: Uuid,
    /// The incident that stays.
    pub into: Uuid,
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// What happened, where and when, and its toll.
#[derive(InputObject)]
pub struct IncidentFactsInput {
    pub time: EventTimeInput,
    pub place: PlaceInput,
    pub event_type: EventType,
    /// Must belong to `eventType` (ACLED's table).
    pub sub_event_type: SubEventType,
    pub means: Option<Vec<Means>>,
    pub target_category: Option<TargetCategory>,
    pub fatalities: CountInput,
    /// Left out when no figure is known (not the same as zero).
    pub injuries: Option<CountInput>,
    pub notes: Option<String>,
    pub tags: Option<Vec<String>>,
    /// The same incident in other datasets (`acled:IRQ12345`).
    pub external_refs: Option<Vec<String>>,
}

impl IncidentFactsInput {
    fn into_domain(self, path: &str) -> Result<IncidentFacts, ApiError> {
        Ok(IncidentFacts {
            time: self.time.into_domain(),
            place: self.place.into_domain(),
            event_type: self.event_type.into(),
            sub_event_type: self.sub_event_type.into(),
            means: self
                .means
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            target_category: self.target_category.map(Into::into),
            fatalities: self.fatalities.into_domain(&format!("{path}.fatalities"))?,
            injuries: self
                .injuries
                .map(|c| c.into_domain(&format!("{path}.injuries")))
                .transpose()?,
            notes: self.notes,
            tags: self.tags.unwrap_or_default(),
            // The domain checks each reference's form.
            external_refs: self
                .external_refs
                .unwrap_or_default()
                .into_iter()
                .map(ExternalRef)
                .collect(),
        })
    }
}

/// When it happened: a day or a span of days, and how precisely that is known.
#[derive(InputObject)]
pub struct EventTimeInput {
    pub start: NaiveDate,
    /// Left out: the same day as `start`.
    pub end: Option<NaiveDate>,
    #[graphql(default_with = "DatePrecision::Day")]
    pub precision: DatePrecision,
}

impl EventTimeInput {
    fn into_domain(self) -> EventTime {
        EventTime {
            start: self.start,
            end: self.end.unwrap_or(self.start),
            precision: self.precision.into(),
        }
    }
}

/// Where it happened.
#[derive(InputObject)]
pub struct PlaceInput {
    /// ISO 3166 alpha-3 (`IRQ`).
    pub country: String,
    pub admin1: Option<String>,
    pub admin2: Option<String>,
    pub admin3: Option<String>,
    pub location: Option<String>,
    pub coordinates: Option<CoordinatesInput>,
    pub precision: GeoPrecision,
    /// The site (a base, a camp) it happened at: a registered site's id.
    pub site: Option<Uuid>,
}

impl PlaceInput {
    fn into_domain(self) -> Place {
        Place {
            // The domain checks the code.
            country: CountryCode(self.country),
            admin1: self.admin1,
            admin2: self.admin2,
            admin3: self.admin3,
            location: self.location,
            coordinates: self.coordinates.map(|c| Coordinates {
                latitude: c.latitude,
                longitude: c.longitude,
            }),
            precision: self.precision.into(),
            site: self.site,
        }
    }
}

/// A point in degrees (WGS 84).
#[derive(InputObject)]
pub struct CoordinatesInput {
    pub latitude: f64,
    pub longitude: f64,
}

/// A figure, or a range of figures (low <= best <= high); give `best` alone for one figure.
#[derive(InputObject)]
pub struct CountInput {
    pub low: Option<i32>,
    pub best: i32,
    pub high: Option<i32>,
    /// What the source said ("dozens").
    pub words: Option<String>,
}

impl CountInput {
    fn into_domain(self, path: &str) -> Result<UncertainCount, ApiError> {
        let count = |name: &str, value: i32| {
            u32::try_from(value)
                .map_err(|_| ApiError::bad_input(format!("{path}.{name}"), "must not be negative"))
        };
        let best = count("best", self.best)?;
        Ok(UncertainCount {
            low: self.low.map_or(Ok(best), |low| count("low", low))?,
            best,
            high: self.high.map_or(Ok(best), |high| count("high", high))?,
            words: self.words,
        })
    }
}

/// Where a fact comes from.
#[derive(InputObject)]
pub struct SourceInput {
    pub name: String,
    pub url: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub scale: Option<SourceScale>,
    /// The words of the source that support the fact.
    pub quote: Option<String>,
}

impl SourceInput {
    // The domain checks the name, the URL and the lengths.
    fn into_domain(self) -> Source {
        Source {
            name: self.name,
            url: self.url,
            published_at: self.published_at,
            scale: self.scale.map(Into::into),
            quote: self.quote,
        }
    }
}

/// An actor's part in an incident.
#[derive(InputObject)]
pub struct ActorInvolvementInput {
    /// A registered actor's id.
    pub actor: Uuid,
    pub role: ActorRole,
    pub attribution: AttributionStatus,
    pub source: Option<SourceInput>,
}

impl ActorInvolvementInput {
    fn into_domain(self) -> domain::ActorInvolvement {
        domain::ActorInvolvement {
            actor: self.actor,
            role: self.role.into(),
            attribution: self.attribution.into(),
            source: self.source.map(SourceInput::into_domain),
        }
    }
}
