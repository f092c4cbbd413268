//! `seqrec serve`: the online recommendation service over a model
//! directory (see `seqrec-serve`).

use anyhow::{Context, Result, bail};
use clap::Args;
use seqrec_serve::{Access, App, EventStore, Service, load_model};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The model directory to serve (written by `seqrec train`).
    #[arg(long)]
    pub model: PathBuf,
    /// Address to listen on (loopback unless told otherwise).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// The durable event store (default: `events/` inside the model directory).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// A file holding the bearer token that write and admin routes require.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Require the token for reads (recommendations, metrics) too.
    #[arg(long, requires = "token_file")]
    pub auth_reads: bool,
    /// Worker threads of the HTTP runtime (default: the CPU count).
    #[arg(long)]
    pub threads: Option<usize>,
}

fn read_token(path: &PathBuf) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the token file {}", path.display()))?;
    let token = text.trim().to_owned();
    if token.is_empty() {
        bail!("the token file {} is empty", path.display());
    }
    if token.chars().any(char::is_whitespace) {
        bail!("the token in {} contains whitespace", path.display());
    }
    Ok(token)
}

pub fn run(args: ServeArgs) -> Result<()> {
    let token = args.token_file.as_ref().map(read_token).transpose()?;
    let store_dir = args
        .store
        .clone()
        .unwrap_or_else(|| args.model.join("events"));
    let model = load_model(&args.model)?;
    let store = EventStore::open(&store_dir)?;
    let (service, replayed) = Service::start(model, store)?;
    tracing::info!(
        replayed = replayed.replayed,
        skipped_unknown_items = replayed.skipped_unknown_items,
        store = %store_dir.display(),
        "stored events replayed"
    );
    let app = Arc::new(App {
        service,
        access: Access {
            token,
            auth_reads: args.auth_reads,
        },
        model_dir: args.model.clone(),
    });
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("listening on {}", args.addr))?;
        let bound = listener.local_addr().context("reading the bound address")?;
        eprintln!(
            "serving {} on http://{bound} (events in {})",
            args.model.display(),
            store_dir.display()
        );
        spawn_reload_on_sighup(Arc::clone(&app));
        seqrec_serve::serve(listener, app, shutdown_signal())
            .await
            .context("serving")
    })
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// SIGHUP reloads the model directory the service started with.
fn spawn_reload_on_sighup(app: Arc<App>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            let dir = app.model_dir.clone();
            let loaded = tokio::task::spawn_blocking(move || load_model(&dir)).await;
            match loaded {
                Ok(Ok(model)) => match app.service.reload(model).await {
                    Ok(r) => tracing::info!(
                        replayed = r.replayed,
                        skipped_unknown_items = r.skipped_unknown_items,
                        "model reloaded (SIGHUP)"
                    ),
                    Err(e) => tracing::error!("reload failed: {e}"),
                },
                Ok(Err(e)) => tracing::error!("reload failed: {e}"),
                Err(e) => tracing::error!("reload failed: {e}"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = app;
}
