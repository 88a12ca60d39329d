//! The vocabularies of actors and sites as GraphQL enums (`MILITIA_GROUPS`, `MEMBER_OF`,
//! `AIR_BASE`), each converted to and from the domain's own enum with async-graphql's `remote`
//! derive (so the compiler checks that both sides have the same variants), and read from the
//! names the read models store (`militia_groups`) with [`crate::vocab::from_stored`].
//!
//! They live apart from [`crate::vocab`] (the incidents' vocabularies) because they belong to
//! the actor and site aggregates.

use async_graphql::Enum;

use crate::vocab::from_stored;

/// ACLED's eight actor types ("inter" codes 1-8).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::vocab::ActorType")]
pub enum ActorType {
    /// 1: the forces of a state.
    StateForces,
    /// 2: organised armed groups fighting a government.
    RebelForces,
    /// 3: armed groups with a political aim that do not seek to replace a government.
    MilitiaGroups,
    /// 4: groups organised around an ethnic, religious or other identity.
    CommunalIdentityGroups,
    /// 5.
    Rioters,
    /// 6.
    Protesters,
    /// 7.
    Civilians,
    /// 8: international organisations, foreign persons and others.
    ForeignOthers,
}

/// How an actor stands to the related actor of an affiliation.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::actor::AffiliationRelation")]
pub enum AffiliationRelation {
    /// Part of a group or umbrella (Kata'ib Hezbollah in the Islamic Resistance in Iraq).
    MemberOf,
    /// Fights alongside it without being part of it.
    AlliedWith,
    /// Armed, funded or directed by it (a militia backed by a state).
    BackedBy,
    /// Broke away from it.
    SplinterOf,
}

/// What kind of place a site is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "sitrep_domain::model::site::SiteKind")]
pub enum SiteKind {
    /// A military air base.
    AirBase,
    /// A naval base.
    NavalBase,
    /// A base that is not mainly an air or naval base, or whose kind is not known better.
    MilitaryBase,
    /// A small forward position: a patrol base, a tower, a "lily pad".
    Outpost,
    /// A military camp, or a camp for displaced people, refugees or detainees.
    Camp,
    /// An embassy or another diplomatic mission.
    Embassy,
    /// A civil airport.
    Airport,
    /// A sea or river port.
    Port,
    /// A city or town.
    City,
    /// Another kind of place.
    Other,
}

/// The GraphQL value of a vocabulary name a read model stored (`None` for one this build does
/// not know, rather than an error).
pub(crate) fn stored<D, G>(name: Option<&str>) -> Option<G>
where
    D: serde::de::DeserializeOwned,
    G: From<D>,
{
    name.and_then(from_stored::<D>).map(G::from)
}
