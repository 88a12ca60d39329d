//! `sitrep token issue|revoke|list`: the operator's side of the API's bearer tokens (see
//! `sitrep_api::tokens`).

use anyhow::Context as _;
use sitrep_api::auth::Role;
use sitrep_api::tokens;
use sqlx::PgPool;

use crate::cli::TokenCommand;

pub async fn run(pool: &PgPool, command: &TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Issue { role, name } => {
            let role = Role::parse(role).with_context(|| format!("unknown role {role:?}"))?;
            let issued = tokens::issue(pool, name, role).await?;
            eprintln!(
                "issued token {} for {:?} with role {}; it is shown only now:",
                issued.token_id, issued.name, issued.role
            );
            println!("{}", issued.secret);
        }
        TokenCommand::Revoke { name } => {
            let token_id = tokens::revoke(pool, name).await?;
            println!("revoked token {token_id} of {name:?}");
        }
        TokenCommand::List => {
            for token in tokens::list(pool).await? {
                let state = match token.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                    None => "live".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\tissued {}\t{}",
                    token.token_id,
                    token.role,
                    token.name,
                    token.issued_at.to_rfc3339(),
                    state
                );
            }
        }
    }
    Ok(())
}
