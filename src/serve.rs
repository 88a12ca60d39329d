//! `sitrep serve`: the HTTP server, the feed notifier and the periodic seal, until Ctrl-C or
//! SIGTERM; then a graceful shutdown that also stops the embedded cluster.

use std::time::Duration;

use anyhow::Context as _;
use sitrep_api::{router, AppState};
use tokio::net::TcpListener;

use crate::cli::{DatabaseArgs, ServeArgs};
use crate::database::Database;

/// How long the notifier gathers appends into one NOTIFY.
const NOTIFY_COALESCE: Duration = Duration::from_millis(5);

pub async fn run(db_args: &DatabaseArgs, args: &ServeArgs) -> anyhow::Result<()> {
    // Bind first: a taken port fails before any cluster is started.
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let db = Database::open(db_args).await?;
    let store = db.store().clone();
    let notifier = tokio::spawn(store.clone().run_notifier(NOTIFY_COALESCE));
    let sealer = (args.seal_interval > 0).then(|| {
        let store = store.clone();
        let every = Duration::from_secs(args.seal_interval);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                match store.seal().await {
                    Ok(Some(seal)) => tracing::info!(
                        seal = seal.seal_no,
                        events = seal.event_count,
                        "sealed the feed"
                    ),
                    Ok(None) => {}
                    Err(error) => tracing::warn!(%error, "could not seal the feed"),
                }
            }
        })
    });

    tracing::info!(address = %listener.local_addr()?, "sitrep is serving");
    let app = router(AppState { store });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the HTTP server failed");

    notifier.abort();
    if let Some(sealer) = sealer {
        sealer.abort();
    }
    // The server's own error, if any, is the one to report; a failure to close comes second.
    let closed = db.close().await;
    served?;
    closed?;
    tracing::info!("sitrep stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
