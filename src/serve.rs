//! `sitrep serve`: the HTTP server, the feed notifier, the projectors and the periodic seal,
//! until Ctrl-C or SIGTERM; then a graceful shutdown that also stops the embedded cluster.

use std::time::Duration;

use anyhow::Context as _;
use sitrep_api::auth::AccessPolicy;
use sitrep_api::{router, AppState};
use sitrep_projections::Projector;
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

    // One projector per read model; in several sitrep processes only one of each leads.
    let (stop_projectors, projectors_stopped) = tokio::sync::watch::channel(false);
    let projectors: Vec<_> = sitrep_projections::all()
        .into_iter()
        .map(|projection| {
            let projector = Projector::new(store.clone(), projection);
            let mut stop = projectors_stopped.clone();
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                };
                if let Err(error) = projector.run(stopped).await {
                    tracing::error!(%error, "projector failed");
                }
            })
        })
        .collect();

    tracing::info!(address = %listener.local_addr()?, "sitrep is serving");
    let mut state = AppState::new(store);
    state.access = AccessPolicy {
        anonymous_reads: args.anonymous_reads,
    };
    state.request_timeout = Duration::from_secs(args.request_timeout.max(1));
    state.upload_timeout = Duration::from_secs(args.upload_timeout.max(1));
    state.read_your_writes = Duration::from_millis(args.read_your_writes_ms);
    // Told to the router too, so that open subscriptions close and the shutdown is not held up.
    let (shut_down, shutting_down) = tokio::sync::watch::channel(false);
    state.shutdown = shutting_down.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = shut_down.send(true);
    });
    let app = router(state);
    let mut shutting_down = shutting_down;
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutting_down.wait_for(|stop| *stop).await;
        })
        .await
        .context("the HTTP server failed");

    let _ = stop_projectors.send(true);
    for projector in projectors {
        let _ = projector.await;
    }
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
