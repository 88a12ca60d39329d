//! The API's bearer tokens in PostgreSQL (`api_tokens`): issuing, revoking, listing, and
//! finding who holds the token a request presents.
//!
//! A token is `sitrep_` and 64 hex digits (32 random bytes from the operating system). Only its
//! SHA-256 digest is stored, so the table cannot be used to sign in; the token itself is shown
//! once, when it is issued.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::Role;

/// What every token starts with, so that a leaked one is easy to recognise and search for.
const TOKEN_PREFIX: &str = "sitrep_";
/// The channel `revoke` notifies (`NOTIFY sitrep_tokens`), on which servers forget the tokens
/// they remember.
pub const TOKENS_CHANNEL: &str = "sitrep_tokens";

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "a token name must be 1 to 200 characters, not blank, with no control characters \
         ({0} characters given)"
    )]
    BadName(usize),
    #[error("a live token named {0:?} exists already; revoke it first")]
    NameTaken(String),
    #[error("no live token named {0:?}")]
    NoSuchToken(String),
    #[error("the operating system gave no random bytes: {0}")]
    Random(String),
    #[error("the token table holds an unknown role {0:?}")]
    UnknownRole(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A token just issued: `secret` is shown once and never stored.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token_id: Uuid,
    pub name: String,
    pub role: Role,
    pub secret: String,
}

/// A stored token, as `sitrep token list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub token_id: Uuid,
    pub name: String,
    pub role: Role,
    pub issued_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The holder of a live token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHolder {
    pub token_id: Uuid,
    pub name: String,
    pub role: Role,
}

/// Issues a new token for `name` with `role`.
pub async fn issue(pool: &PgPool, name: &str, role: Role) -> Result<IssuedToken, TokenError> {
    let length = name.chars().count();
    if !(1..=200).contains(&length) || name.trim().is_empty() || name.chars().any(char::is_control)
    {
        return Err(TokenError::BadName(length));
    }
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| TokenError::Random(e.to_string()))?;
    let secret = format!("{TOKEN_PREFIX}{}", hex::encode(random));
    let token_id = Uuid::now_v7();
    let inserted = sqlx::query(
        "INSERT INTO api_tokens (token_id, name, role, token_hash) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_id)
    .bind(name)
    .bind(role.as_str())
    .bind(digest(&secret).as_slice())
    .execute(pool)
    .await;
    match inserted {
        Ok(_) => Ok(IssuedToken {
            token_id,
            name: name.to_owned(),
            role,
            secret,
        }),
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("api_tokens_live_name") => {
            Err(TokenError::NameTaken(name.to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Revokes the live token named `name`; requests that present it are refused from then on.
pub async fn revoke(pool: &PgPool, name: &str) -> Result<Uuid, TokenError> {
    let mut tx = pool.begin().await?;
    let token_id = sqlx::query_scalar(
        "UPDATE api_tokens SET revoked_at = now() \
         WHERE name = $1 AND revoked_at IS NULL RETURNING token_id",
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| TokenError::NoSuchToken(name.to_owned()))?;
    // Sent at commit: servers forget the tokens they remember (`crate::token_cache`).
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(TOKENS_CHANNEL)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(token_id)
}

/// Whether the token `token_id` is still live (issued and not revoked).
pub async fn is_live(pool: &PgPool, token_id: Uuid) -> Result<bool, TokenError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE token_id = $1 AND revoked_at IS NULL)",
    )
    .bind(token_id)
    .fetch_one(pool)
    .await?)
}

/// The ids of every revoked token.
pub async fn revoked_ids(pool: &PgPool) -> Result<std::collections::HashSet<Uuid>, TokenError> {
    let ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT token_id FROM api_tokens WHERE revoked_at IS NOT NULL")
            .fetch_all(pool)
            .await?;
    Ok(ids.into_iter().collect())
}

/// Every token ever issued, oldest first.
pub async fn list(pool: &PgPool) -> Result<Vec<TokenRecord>, TokenError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        token_id: Uuid,
        name: String,
        role: String,
        issued_at: DateTime<Utc>,
        revoked_at: Option<DateTime<Utc>>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT token_id, name, role, issued_at, revoked_at FROM api_tokens \
         ORDER BY issued_at, token_id",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(TokenRecord {
                token_id: row.token_id,
                name: row.name,
                role: Role::parse(&row.role).ok_or(TokenError::UnknownRole(row.role))?,
                issued_at: row.issued_at,
                revoked_at: row.revoked_at,
            })
        })
        .collect()
}

/// Who holds `secret`, if it is a live token.
pub async fn holder(pool: &PgPool, secret: &str) -> Result<Option<TokenHolder>, TokenError> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let row: Option<(Uuid, String, String)> = sqlx::query_as(
        "SELECT token_id, name, role FROM api_tokens \
         WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(digest(secret).as_slice())
    .fetch_optional(pool)
    .await?;
    row.map(|(token_id, name, role)| {
        Ok(TokenHolder {
            token_id,
            name,
            role: Role::parse(&role).ok_or(TokenError::UnknownRole(role))?,
        })
    })
    .transpose()
}

/// The SHA-256 digest of a token's secret: what the table keeps.
pub(crate) fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}
