//! The site mutations: one per command of the domain's site aggregate (`SiteCommand`). Each
//! runs through [`crate::commands::execute`] (the domain validates before anything is appended,
//! `expectedVersion` and `idempotencyKey` are honoured, the read models are waited for) and
//! answers with the site as the actors read model (which keeps the sites) then shows it.
//!
//! Inputs mirror the domain's commands field for field, so the domain's field paths come back
//! as paths into the input (`input.operatedBy[1]`).

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sitrep_domain::model::site::{self as domain, Site as SiteAggregate, SiteCommand};
use sitrep_domain::model::values::{Coordinates, CountryCode};
use uuid::Uuid;

use crate::actor_vocab::SiteKind;
use crate::commands::{self, key_namespaces, CommandOptions, CommandOutcome};
use crate::error::ApiError;
use crate::inputs::{CoordinatesInput, EventTimeInput, SourceInput};
use crate::sites::{find_site, Site};
use crate::vocab::GeoPrecision;

/// The site mutations.
#[derive(Default)]
pub struct SiteMutation;

#[Object]
impl SiteMutation {
    /// Registers a new site (`siteId` may be chosen by the client; when left out it follows
    /// from `idempotencyKey` if there is one, else the server picks one). A site id
    /// registered already is refused with `ALREADY_EXISTS`.
    async fn register_site(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new site.")] input: RegisterSiteInput,
    ) -> async_graphql::Result<SitePayload> {
        let command = SiteCommand::RegisterSite(domain::RegisterSite {
            name: input.name,
            kind: input.kind.into(),
            // The domain checks the codes.
            country: CountryCode(input.country),
            admin1: input.admin1,
            coordinates: input.coordinates.map(point),
            precision: input.precision.into(),
            aliases: input.aliases.unwrap_or_default(),
            operated_by: input
                .operated_by
                .unwrap_or_default()
                .into_iter()
                .map(CountryCode)
                .collect(),
            description: input.description,
            source: input.source.map(SourceInput::into_domain),
        });
        let outcome = commands::execute_new::<SiteAggregate>(
            ctx,
            input.site_id,
            &key_namespaces::SITE,
            "",
            &command,
            &input.options,
        )
        .await?;
        Ok(SitePayload::from(outcome))
    }

    /// Corrects a site's details (the fields given), with a reason. A new name makes the
    /// previous one an alias unless `aliases` is given too (which then is the whole new list).
    /// Refused with `INVALID_STATE` when every field given has its current value.
    async fn amend_site(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The site, the corrections and why.")] input: AmendSiteInput,
    ) -> async_graphql::Result<SitePayload> {
        let command = SiteCommand::AmendSite(domain::AmendSite {
            name: input.name,
            kind: input.kind.map(Into::into),
            country: input.country.map(CountryCode),
            admin1: input.admin1,
            coordinates: input.coordinates.map(point),
            precision: input.precision.map(Into::into),
            aliases: input.aliases,
            operated_by: input
                .operated_by
                .map(|codes| codes.into_iter().map(CountryCode).collect()),
            description: input.description,
            reason: input.reason,
        });
        Ok(execute(ctx, input.site_id, command, &input.options).await?)
    }

    /// Records that a site is no longer used, with a reason. It stays registered and
    /// amendable; incidents keep referring to it. A retired site is refused with
    /// `INVALID_STATE`.
    async fn retire_site(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The site, when it stopped being used, and why.")] input: RetireSiteInput,
    ) -> async_graphql::Result<SitePayload> {
        let command = SiteCommand::RetireSite(domain::RetireSite {
            retired_on: input.retired_on.map(EventTimeInput::into_domain),
            reason: input.reason,
        });
        Ok(execute(ctx, input.site_id, command, &input.options).await?)
    }

    /// Records that a retired site is used again (or was retired by mistake), with a reason. A
    /// site in use is refused with `INVALID_STATE`.
    async fn reinstate_site(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The site, when it was used again, and why.")] input: ReinstateSiteInput,
    ) -> async_graphql::Result<SitePayload> {
        let command = SiteCommand::ReinstateSite(domain::ReinstateSite {
            reinstated_on: input.reinstated_on.map(EventTimeInput::into_domain),
            reason: input.reason,
        });
        Ok(execute(ctx, input.site_id, command, &input.options).await?)
    }
}

/// The domain's point (the domain checks its ranges).
fn point(c: CoordinatesInput) -> Coordinates {
    Coordinates {
        latitude: c.latitude,
        longitude: c.longitude,
    }
}

/// Runs `command` on site `id` and answers with the payload.
async fn execute(
    ctx: &Context<'_>,
    id: Uuid,
    command: SiteCommand,
    options: &CommandOptions,
) -> Result<SitePayload, ApiError> {
    let outcome = commands::execute::<SiteAggregate>(ctx, id, &command, options).await?;
    Ok(SitePayload::from(outcome))
}

/// What every site mutation answers.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct SitePayload {
    /// The site changed (or registered).
    pub site_id: Uuid,
    /// The site's version after the mutation (the next `expectedVersion`).
    pub version: i32,
    /// The events appended (for a replayed request: those the first request appended).
    pub event_ids: Vec<Uuid>,
    /// When the events were recorded.
    pub recorded_at: DateTime<Utc>,
    /// True when this was a retry with an `idempotencyKey` already used: nothing was appended.
    pub replayed: bool,
    /// True when the read models had applied the change before this answer; false when they
    /// did not within the server's wait, and `site` may not show it yet.
    pub caught_up: bool,
}

impl From<CommandOutcome> for SitePayload {
    fn from(outcome: CommandOutcome) -> Self {
        let caught_up = outcome.caught_up();
        Self {
            site_id: outcome.stream_id,
            version: outcome.version,
            event_ids: outcome.event_ids,
            recorded_at: outcome.recorded_at,
            replayed: outcome.replayed,
            caught_up,
        }
    }
}

#[ComplexObject]
impl SitePayload {
    /// The site as the actors read model shows it now (null if it is not there yet).
    async fn site(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Site>> {
        find_site(ctx, self.site_id, None).await
    }
}

/// A new site.
#[derive(InputObject)]
pub struct RegisterSiteInput {
    /// Chosen by the client; when left out, derived from `idempotencyKey` if there is one (so a
    /// retry registers the same site), else picked by the server.
    pub site_id: Option<Uuid>,
    /// The name it is best known by ("Al Asad Air Base").
    pub name: String,
    /// What kind of place it is.
    pub kind: SiteKind,
    /// ISO 3166 alpha-3 (`IRQ`).
    pub country: String,
    /// The province or governorate ("Al Anbar").
    pub admin1: Option<String>,
    /// Where it is, when known.
    pub coordinates: Option<CoordinatesInput>,
    /// How precisely `coordinates` place the site: `EXACT` or `NEAR` need coordinates.
    pub precision: GeoPrecision,
    /// Other names and spellings: unique case aside, and not the name.
    pub aliases: Option<Vec<String>>,
    /// The countries whose forces use the site (ISO 3166 alpha-3, no repeats).
    pub operated_by: Option<Vec<String>>,
    /// What it is, in a few words (at most 10,000 characters).
    pub description: Option<String>,
    /// Where the site's details come from (a gazetteer, a report).
    pub source: Option<SourceInput>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// Corrections of a site's details: the fields given replace the current ones, the others
/// stay.
#[derive(InputObject)]
pub struct AmendSiteInput {
    /// The site.
    pub site_id: Uuid,
    /// The new name; the current one becomes an alias unless `aliases` is given too.
    pub name: Option<String>,
    /// What kind of place it is.
    pub kind: Option<SiteKind>,
    /// ISO 3166 alpha-3.
    pub country: Option<String>,
    /// The province or governorate.
    pub admin1: Option<String>,
    /// Where it is.
    pub coordinates: Option<CoordinatesInput>,
    /// How precisely the coordinates place the site: `EXACT` or `NEAR` need coordinates
    /// (given here, or the current ones).
    pub precision: Option<GeoPrecision>,
    /// The whole new list of aliases.
    pub aliases: Option<Vec<String>>,
    /// The whole new list of operating countries.
    pub operated_by: Option<Vec<String>>,
    /// What it is, in a few words (at most 10,000 characters).
    pub description: Option<String>,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A site no longer used.
#[derive(InputObject)]
pub struct RetireSiteInput {
    /// The site to retire: one in use.
    pub site_id: Uuid,
    /// When it stopped being used, as precisely as known.
    pub retired_on: Option<EventTimeInput>,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// A retired site used again.
#[derive(InputObject)]
pub struct ReinstateSiteInput {
    /// The site to reinstate: a retired one.
    pub site_id: Uuid,
    /// When it was used again, as precisely as known.
    pub reinstated_on: Option<EventTimeInput>,
    /// Why (not blank; at most 10,000 characters): kept with the change in the history.
    pub reason: String,
    #[graphql(flatten)]
    pub options: CommandOptions,
}
