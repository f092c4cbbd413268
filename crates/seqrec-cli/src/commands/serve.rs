//! `seqrec serve`: the online recommendation service over a model
//! directory (see `seqrec-serve`).

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use seqrec_serve::partition::Partition;
use seqrec_serve::{Access, App, EventStore, Service, load_model};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    #[command(subcommand)]
    pub command: Option<ServeCommand>,
    /// The model directory to serve (written by `seqrec train`). Without
    /// it, the one the store last served (a reload's included).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Address to listen on (loopback unless told otherwise).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// The durable event store: the users' events, kept across model
    /// changes, so never inside a model directory (default: `serve-store/`
    /// in the working directory).
    #[arg(long, default_value = "serve-store")]
    pub store: PathBuf,
    /// Requests that may wait for the writer (and reads for the reader)
    /// before more are refused with 503 and `Retry-After`.
    #[arg(long, default_value_t = seqrec_serve::ServiceOptions::default().queue_capacity)]
    pub queue_capacity: usize,
    /// The most user states kept in memory (default: no bound). Beyond it
    /// the least recently used leave memory and are rebuilt from the event
    /// store when they come back: memory stays bounded, no user is reset.
    #[arg(long)]
    pub max_resident_users: Option<usize>,
    /// Snapshot the users in memory after this many stored events (and
    /// at every clean stop) into `snapshots/` of the store's directory, so
    /// a start loads it and applies only the events after it.
    #[arg(long, default_value_t = 100_000)]
    pub snapshot_every: u64,
    /// Take no snapshots (a start then rebuilds every user from the store
    /// when first used).
    #[arg(long)]
    pub no_snapshots: bool,
    /// A file holding one bearer token for event ingestion and the admin
    /// routes alike (or give each its own with the two options below).
    #[arg(long, conflicts_with_all = ["events_token_file", "admin_token_file"])]
    pub token_file: Option<PathBuf>,
    /// A file holding the bearer token `POST /v1/events` requires.
    #[arg(long)]
    pub events_token_file: Option<PathBuf>,
    /// A file holding the bearer token the admin routes (reload, deleting
    /// a user) require; without it they are off once an events token is set.
    #[arg(long)]
    pub admin_token_file: Option<PathBuf>,
    /// Require a token for reads (recommendations, metrics) too.
    #[arg(long)]
    pub auth_reads: bool,
    /// Listen on a non-loopback address without any token (refused
    /// otherwise: anyone who can reach the port could write events and
    /// reload models).
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// After SIGTERM or Ctrl-C, how long the requests in flight may take
    /// to finish (`30s`, `2m`); then the process exits (status 0) without
    /// them. Events already stored are durable either way.
    #[arg(long, value_parser = super::parse_duration, default_value = "30s")]
    pub drain_timeout: std::time::Duration,
    /// The longest one request may take; then it is answered 503
    /// (`timeout`).
    #[arg(long, value_parser = super::parse_duration, default_value = "30s")]
    pub request_timeout: std::time::Duration,
    /// Requests processed at once; more wait for a turn within their
    /// timeout.
    #[arg(long, default_value_t = seqrec_serve::HttpOptions::default().max_in_flight)]
    pub max_in_flight: usize,
    /// Worker threads of the HTTP runtime (default: the CPU count).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Serve only the users of partition i of N (`0/3`): the owner of a
    /// user is the jump consistent hash of xxh3-64 of the user id into N
    /// buckets; requests about other users are answered 421 with their
    /// owner.
    #[arg(long)]
    pub partition: Option<Partition>,
}

/// What `seqrec serve` does besides serving.
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// Write a store's event log as a table that `seqrec data` and
    /// `seqrec train` read (`user,item,timestamp,event_id,seq`), with a
    /// manifest beside it (`<out>.export.json`) recording the log position
    /// it ends at: a model trained on it applies only later events. The
    /// store must not be open in a running service.
    Export(ExportArgs),
    /// Append an exported table to a store (moving users between
    /// partitions); event ids are kept, so a second import of the same
    /// table stores nothing twice.
    Import(ImportArgs),
    /// Remove the stored events numbered below `--before` (the log is
    /// kept whole otherwise). Only events a model's data already holds
    /// may go: `--before` may not pass the log position of the model
    /// served (the store's record, or `--model`). Their event ids go with
    /// them. The store must not be open in a running service.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    #[arg(long, default_value = "serve-store")]
    pub store: PathBuf,
    /// The first arrival number to keep.
    #[arg(long)]
    pub before: u64,
    /// The model whose log position bounds `--before` (default: the one
    /// the store records as served).
    #[arg(long)]
    pub model: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, default_value = "serve-store")]
    pub store: PathBuf,
    /// The CSV table to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Only events numbered from here on (a previous export's log
    /// position, for the events since).
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// Only the users of this partition (`i/N`).
    #[arg(long)]
    pub partition: Option<Partition>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[arg(long, default_value = "serve-store")]
    pub store: PathBuf,
    /// A table written by `seqrec serve export`.
    #[arg(long)]
    pub table: PathBuf,
    /// Only the users of this partition (`i/N`).
    #[arg(long)]
    pub partition: Option<Partition>,
}

fn open_store(dir: &Path) -> Result<EventStore> {
    EventStore::open(dir).with_context(|| {
        format!(
            "opening the store {} (a running service holds it: stop it first)",
            dir.display()
        )
    })
}

fn export(args: &ExportArgs) -> Result<()> {
    if !args.store.join("events.redb").exists() {
        bail!("{} holds no event store", args.store.display());
    }
    let store = open_store(&args.store)?;
    let partial = args.out.with_extension("csv.partial");
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let manifest = seqrec_serve::export::export(
        &store.log(),
        args.after,
        args.partition,
        &mut out,
        &args.out,
    )?;
    drop(out);
    std::fs::rename(&partial, &args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let manifest_path = seqrec_serve::export::manifest_path(&args.out);
    std::fs::write(&manifest_path, serde_json::to_string_pretty(&manifest)?)
        .with_context(|| format!("writing {}", manifest_path.display()))?;
    eprintln!(
        "{} events (arrival numbers {} to {}) written to {}; a model trained on it applies the store's events from {} on",
        manifest.events,
        manifest.from,
        manifest.log_position,
        args.out.display(),
        manifest.log_position
    );
    Ok(())
}

fn prune(args: &PruneArgs) -> Result<()> {
    let model = match (
        &args.model,
        seqrec_serve::recorded_model(&args.store).map_err(anyhow::Error::msg)?,
    ) {
        (Some(model), _) => model.clone(),
        (None, Some(recorded)) => recorded,
        (None, None) => bail!(
            "{} records no model served: give --model DIR, the model whose log position bounds --before",
            args.store.display()
        ),
    };
    let saved = seqrec_runner::model_dir::read_saved(&model)?;
    let position = saved.log_position.unwrap_or(0);
    if args.before > position {
        bail!(
            "--before {} passes the log position of {} ({position}): the events from there on are what it applies to its users. Train a model on an export (`seqrec serve export`) first; its log position is how far pruning may go",
            args.before,
            model.display()
        );
    }
    let mut store = open_store(&args.store)?;
    let removed = store.prune_before(args.before)?;
    eprintln!(
        "{removed} events numbered below {} removed from {}",
        args.before,
        args.store.display()
    );
    Ok(())
}

fn import(args: &ImportArgs) -> Result<()> {
    let mut store = open_store(&args.store)?;
    let done = seqrec_serve::export::import(&mut store, &args.table, args.partition)?;
    eprintln!(
        "{} events read from {}: {} stored, {} already there (same event id), {} of other partitions left out",
        done.read,
        args.table.display(),
        done.stored,
        done.duplicates,
        done.other_partitions
    );
    Ok(())
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

/// The access rules the flags ask for, refusing unsafe combinations.
fn access_of(args: &ServeArgs) -> Result<Access> {
    let mut access = match &args.token_file {
        Some(path) => Access::one_token(read_token(path)?),
        None => Access {
            events_token: args
                .events_token_file
                .as_ref()
                .map(read_token)
                .transpose()?,
            admin_token: args.admin_token_file.as_ref().map(read_token).transpose()?,
            auth_reads: false,
        },
    };
    if args.auth_reads && !access.guarded() {
        bail!(
            "--auth-reads needs a token: give --token-file, --events-token-file or --admin-token-file"
        );
    }
    access.auth_reads = args.auth_reads;
    if !access.guarded() && !args.addr.ip().is_loopback() && !args.insecure_no_auth {
        bail!(
            "{} is not a loopback address and no token is set: anyone who can reach it could write events and reload models. Give --token-file (or --events-token-file and --admin-token-file), or --insecure-no-auth if something in front of the service checks access",
            args.addr
        );
    }
    Ok(access)
}

/// Refuses to start a fresh default store beside a model directory that
/// holds the store an older seqrec kept inside it: its users would
/// silently start over.
fn check_store(store: &Path, model: &Path) -> Result<()> {
    let inside = model.join("events");
    let fresh = !store.join("events.redb").exists();
    if fresh && inside.join("events.redb").exists() && store != inside {
        bail!(
            "{} holds an event store (an older seqrec kept it inside the model directory), and {} has none: the users' online events would start over. Pass --store {} to keep serving them (or move that directory to {})",
            inside.display(),
            store.display(),
            inside.display(),
            store.display()
        );
    }
    Ok(())
}

/// The model to serve: `--model`, else the one the store records.
fn model_dir(args: &ServeArgs) -> Result<PathBuf> {
    let recorded = seqrec_serve::recorded_model(&args.store).map_err(anyhow::Error::msg)?;
    match (&args.model, recorded) {
        (Some(given), Some(recorded)) => {
            let same = std::path::absolute(given).ok().as_deref() == Some(recorded.as_path());
            if !same {
                tracing::warn!(
                    recorded = %recorded.display(),
                    given = %given.display(),
                    "the store last served another model (a reload's?); serving --model as asked"
                );
            }
            Ok(given.clone())
        }
        (Some(given), None) => Ok(given.clone()),
        (None, Some(recorded)) => Ok(recorded),
        (None, None) => bail!(
            "no --model, and the store {} records no model served: give --model DIR",
            args.store.display()
        ),
    }
}

pub fn run(args: ServeArgs) -> Result<()> {
    match &args.command {
        Some(ServeCommand::Export(export_args)) => return export(export_args),
        Some(ServeCommand::Import(import_args)) => return import(import_args),
        Some(ServeCommand::Prune(prune_args)) => return prune(prune_args),
        None => {}
    }
    let access = access_of(&args)?;
    let model_dir = model_dir(&args)?;
    check_store(&args.store, &model_dir)?;
    let store_dir = args.store.clone();
    let model = load_model(&model_dir)?;
    let store = EventStore::open(&store_dir)?;
    let options = seqrec_serve::ServiceOptions {
        queue_capacity: args.queue_capacity,
        max_resident_users: args.max_resident_users,
        snapshot_every: Some(args.snapshot_every),
        snapshots: !args.no_snapshots,
    };
    let (service, started) =
        Service::start_with(model, store, seqrec_serve::Start::WholeHistory, &options)?;
    tracing::info!(
        resident_users = started.resident_users,
        replayed = started.replayed,
        log_position = started.log_position,
        store = %store_dir.display(),
        "model ready (other users are rebuilt from the store when first used)"
    );
    let http = seqrec_serve::HttpOptions {
        request_timeout: args.request_timeout,
        max_in_flight: args.max_in_flight,
    };
    if http.max_in_flight == 0 {
        bail!("--max-in-flight must be at least 1");
    }
    let mut app = App::new(service, access, model_dir.clone());
    if let Some(partition) = args.partition {
        app = app.with_partition(partition);
        tracing::info!(%partition, "serving one partition of the users");
    }
    let app = Arc::new(
        app.with_http(http)
            .record_in(&store_dir)
            .map_err(anyhow::Error::msg)
            .context("recording the model served in the store's directory")?,
    );
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    let drain_timeout = args.drain_timeout;
    let outcome = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("listening on {}", args.addr))?;
        let bound = listener.local_addr().context("reading the bound address")?;
        eprintln!(
            "serving {} on http://{bound} (events in {})",
            model_dir.display(),
            store_dir.display()
        );
        spawn_reload_on_sighup(Arc::clone(&app));
        seqrec_serve::serve_draining(listener, app, shutdown_signal(), Some(drain_timeout))
            .await
            .context("serving")
    });
    // A drain that timed out may leave a worker busy: do not wait for it.
    runtime.shutdown_background();
    match outcome? {
        seqrec_serve::Drain::Complete => tracing::info!("drained: every request answered"),
        seqrec_serve::Drain::TimedOut => tracing::warn!(
            "drain timeout ({}s) passed: requests still in flight were abandoned",
            drain_timeout.as_secs_f64()
        ),
    }
    Ok(())
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
            match app.reload(None).await {
                Ok((dir, r)) => tracing::info!(
                    model = %dir.display(),
                    resident_users = r.resident_users,
                    replayed = r.replayed,
                    log_position = r.log_position,
                    "model reloaded (SIGHUP)"
                ),
                Err(e) => tracing::error!("reload failed: {e}"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = app;
}
