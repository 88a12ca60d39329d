//! The sites side of the schema: `sites` (a Relay connection over the site list, by name,
//! keyset-paginated, filtered by country, kind, retirement, a bounding box or a name) and
//! `site`, read from the live generation of the actors read model (which keeps the sites), now
//! or as known at a recorded time (`asOf`).

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sitrep_domain::model::values::Coordinates;
use sitrep_projections::actor_queries::{site_list, NameCursor, SiteFilter, SiteItem};
use uuid::Uuid;

use crate::actor_vocab::{stored, SiteKind};
use crate::actors::{countries, page, rule_at, search, NameCursorText};
use crate::error::ApiError;
use crate::incidents::{pool, BoundingBox};
use crate::loaders::{loader, SiteKey};
use crate::read_models::live_schema;
use crate::scalars::page_of;
use crate::vocab::{stored_name, GeoPrecision};

/// The sites queries.
#[derive(Default)]
pub struct SiteQuery;

#[Object]
impl SiteQuery {
    /// Sites the filter selects, by name (then id), `first` at a time (at most 200) after the
    /// cursor `after`; as known at `asOf` when given. Retired sites are listed too unless the
    /// filter says otherwise.
    #[graphql(
        complexity = "(first.unwrap_or(crate::actors::DEFAULT_PAGE).clamp(0, crate::actors::MAX_PAGE) as usize).saturating_mul(child_complexity)"
    )]
    async fn sites(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to select; left out: every site.")] filter: Option<SiteFilterInput>,
        #[graphql(desc = "How many sites a page holds (0 to 200; 50 when left out).")]
        first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page; left out: the first page.")]
        after: Option<String>,
        #[graphql(
            desc = "Read as known at this recorded time (what sitrep knew then); left out: now."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Connection<NameCursorText, Site>> {
        let (limit, after) = page(first, after)?;
        let filter = filter.unwrap_or_default().into_query()?;
        let pool = pool(ctx)?;
        let schema = live_schema(pool, "actors").await?;
        let items = site_list(pool, &schema, &filter, limit + 1, after.as_ref(), as_of)
            .await
            .map_err(ApiError::from)?;
        let (items, has_next) = page_of(items, limit as usize);
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(items.into_iter().map(|item| {
            let cursor = NameCursorText(NameCursor {
                name: item.name.clone(),
                id: item.site_id,
            });
            Edge::new(cursor, Site(item))
        }));
        Ok(connection)
    }

    /// One site; as known at `asOf` when given. Null when it was not known.
    async fn site(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The site's id.")] id: Uuid,
        #[graphql(
            desc = "Read as known at this recorded time (what sitrep knew then); left out: now."
        )]
        as_of: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Option<Site>> {
        find_site(ctx, id, as_of).await
    }
}

/// Site `id` as the live actors read model shows it, now or as known at `as_of`.
pub(crate) async fn find_site(
    ctx: &Context<'_>,
    id: Uuid,
    as_of: Option<DateTime<Utc>>,
) -> async_graphql::Result<Option<Site>> {
    Ok(loader(ctx)?
        .load_one(SiteKey { id, as_of })
        .await?
        .map(Site))
}

/// Which sites to list. Fields left out do not filter; a list selects any of its values.
#[derive(InputObject, Default, Debug)]
pub struct SiteFilterInput {
    /// Part of the name or of an alias, any case ("asad").
    pub search: Option<String>,
    /// ISO 3166 alpha-3 codes (`IRQ`).
    pub countries: Option<Vec<String>>,
    /// Kinds of place.
    pub kinds: Option<Vec<SiteKind>>,
    /// True: only retired sites; false: only sites in use.
    pub retired: Option<bool>,
    /// Sites whose coordinates lie inside (sites without coordinates are left out).
    pub bounding_box: Option<BoundingBox>,
}

impl SiteFilterInput {
    fn into_query(self) -> Result<SiteFilter, ApiError> {
        let bounding_box = match self.bounding_box {
            None => None,
            Some(b) => {
                for (corner, latitude, longitude) in [
                    ("southWest", b.south, b.west),
                    ("northEast", b.north, b.east),
                ] {
                    Coordinates {
                        latitude,
                        longitude,
                    }
                    .validate()
                    .map_err(|e| rule_at(format!("filter.boundingBox.{corner}"), e))?;
                }
                if b.west > b.east || b.south > b.north {
                    return Err(ApiError::bad_input(
                        "filter.boundingBox",
                        "west must not exceed east, nor south north",
                    ));
                }
                Some([b.west, b.south, b.east, b.north])
            }
        };
        Ok(SiteFilter {
            search: search(self.search)?,
            countries: countries(self.countries)?,
            kinds: self
                .kinds
                .unwrap_or_default()
                .into_iter()
                .map(|k| stored_name(&sitrep_domain::model::site::SiteKind::from(k)))
                .collect(),
            retired: self.retired,
            bounding_box,
        })
    }
}

/// A named place incidents happen at again and again (a base, a camp, an embassy), as the
/// actors read model shows it.
pub struct Site(pub SiteItem);

/// A named place incidents happen at again and again (a base, a camp, an embassy), as the
/// actors read model (which keeps the sites) shows it: now, or as known at the `asOf` it was
/// read at.
#[Object]
impl Site {
    /// The site's id (its stream; incidents name it as `place.site`).
    async fn id(&self) -> Uuid {
        self.0.site_id
    }

    /// The site's stream version this shows (give it as `expectedVersion`).
    async fn version(&self) -> i32 {
        i32::try_from(self.0.stream_version).unwrap_or(i32::MAX)
    }

    /// The name it is best known by ("Al Asad Air Base").
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Other names and spellings.
    async fn aliases(&self) -> &[String] {
        &self.0.aliases
    }

    /// What kind of place it is.
    async fn kind(&self) -> Option<SiteKind> {
        stored::<sitrep_domain::model::site::SiteKind, _>(self.0.kind.as_deref())
    }

    /// ISO 3166 alpha-3.
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }

    /// The province or governorate.
    async fn admin1(&self) -> Option<&str> {
        self.0.admin1.as_deref()
    }

    /// Where it is, when known.
    async fn coordinates(&self) -> Option<Point> {
        Some(Point {
            latitude: self.0.latitude?,
            longitude: self.0.longitude?,
        })
    }

    /// How precisely the coordinates place the site.
    async fn precision(&self) -> Option<GeoPrecision> {
        stored::<sitrep_domain::model::values::GeoPrecision, _>(self.0.precision.as_deref())
    }

    /// The countries whose forces use it (ISO 3166 alpha-3).
    async fn operated_by(&self) -> &[String] {
        &self.0.operated_by
    }

    /// What it is, in a few words.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Whether it is no longer used (closed, abandoned, handed over).
    async fn retired(&self) -> bool {
        self.0.retired
    }

    /// When the version shown was recorded.
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }
}

/// A point in degrees (WGS 84).
#[derive(SimpleObject)]
pub struct Point {
    /// Degrees north, -90 to 90 (negative: south).
    pub latitude: f64,
    /// Degrees east, -180 to 180 (negative: west).
    pub longitude: f64,
}
