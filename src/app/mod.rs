//! Building and running the server: [`Application::build`] opens the store, recovers what a
//! crash left running, starts the runtime and binds the listener (port known, even for port
//! 0); [`Application::run_until_stopped`] serves until a shutdown signal, then stops
//! accepting, hands running jobs back to the queue and returns. `listen` accepts the
//! connections.

mod listen;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::config::Config;
use crate::kind::{CpuPool, Registry, RegistryError};
use crate::runtime::Runtime;
use crate::store::{self, StoreError};

/// Errors while starting the server.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("opening the job store failed")]
    Store(#[from] StoreError),
    #[error("binding {addr} failed")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("starting the CPU pool failed")]
    Pool(#[from] rayon::ThreadPoolBuildError),
    #[error(transparent)]
    Fetch(#[from] crate::kinds::fetch_urls::client::ClientError),
    #[error(transparent)]
    Kinds(#[from] RegistryError),
    #[error(transparent)]
    Keys(#[from] crate::api::auth::KeyError),
    #[error("--worker-kind-schema names `{0}`, which is not one of --worker-kinds")]
    NotAWorkerKind(String),
    #[error("--kind-concurrency names `{0}`, which is not a kind of this server")]
    UnknownLimitedKind(String),
    #[error(transparent)]
    WorkerSchema(#[from] crate::kind::SchemaError),
}

/// A server ready to run.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    runtime: Runtime,
    grace: Duration,
    connections: listen::Limits,
}

impl Application {
    /// The server of `config`, with the built-in kinds.
    pub async fn build(config: &Config) -> Result<Self, AppError> {
        Self::build_with(config, Registry::new()).await
    }

    /// The server of `config`, with the built-in kinds and those of `extra`.
    pub async fn build_with(config: &Config, extra: Registry) -> Result<Self, AppError> {
        crate::telemetry::metrics::install();
        let mut kinds = Registry::new();
        config.builtins()?.register(&mut kinds)?;
        kinds.extend(extra)?;
        let names: Vec<&str> = (config.worker_kinds.iter())
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .collect();
        if let Some((kind, _)) =
            (config.worker_kind_schemas.iter()).find(|(kind, _)| !names.contains(&kind.as_str()))
        {
            return Err(AppError::NotAWorkerKind(kind.clone()));
        }
        for name in names {
            let mut kind = crate::kind::WorkerKind::new(name);
            for (_, path) in config.worker_kind_schemas.iter().filter(|(k, _)| k == name) {
                kind = kind.with_schema_file(path)?;
            }
            kinds.register(kind)?;
        }
        kinds.enable_only(&config.kinds)?;
        let mut options = config.store();
        let names: Vec<String> = kinds.known().iter().map(|k| k.to_string()).collect();
        options.sqlite.kinds.clone_from(&names);
        options.postgres.kinds = names;
        let store = store::open(&config.database_url, &options).await?;
        let mut runtime_config = config.runtime();
        for (name, n) in &config.kind_concurrency {
            let kind = kinds
                .get(name)
                .ok_or_else(|| AppError::UnknownLimitedKind(name.clone()))?;
            let limits = std::sync::Arc::make_mut(&mut runtime_config.kind_concurrency);
            limits.insert(kind.name(), *n as usize);
        }
        let recovered = store
            .recover_interrupted(&runtime_config.instance_id)
            .await?;
        if recovered.requeued + recovered.failed + recovered.cancelled > 0 {
            tracing::warn!(
                requeued = recovered.requeued,
                failed = recovered.failed,
                cancelled = recovered.cancelled,
                "recovered jobs that a previous process left running"
            );
        }
        // A pool per CPU job that may run at once (see `kind::cpu`).
        store.limit_kinds(std::sync::Arc::clone(&runtime_config.kind_concurrency));
        let cpu = CpuPool::new(config.cpu_threads(), runtime_config.max_cpu_jobs)?;
        let runtime = Runtime::start(Arc::new(store), cpu, Arc::new(kinds), runtime_config);
        let state = AppState {
            runtime: runtime.clone(),
            limits: Arc::new(config.limits()),
            max_queued: config.max_queued_jobs,
            stats: Arc::default(),
        };
        let router = api::router(state, config.api()?);
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| AppError::Bind {
                addr: config.listen,
                source,
            })?;
        Ok(Self {
            listener,
            router,
            runtime,
            grace: Duration::from_millis(config.shutdown_grace_ms),
            connections: listen::Limits {
                header_read_timeout: Duration::from_millis(config.header_read_timeout_ms),
                max_connections: config.max_connections as usize,
                max_per_ip: config.max_connections_per_ip as usize,
                send_timeout: Duration::from_millis(config.send_timeout_ms),
            },
        })
    }

    /// The runtime: the door for state changes, the store behind it (for a program embedding
    /// faena, and for tests that act as another instance would).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// Serves until `shutdown` completes, then shuts down in order.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let stop = CancellationToken::new();
        let signal = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            signal.cancel();
        });
        let runtime = self.runtime.clone();
        let grace = self.grace;
        let serve = listen::serve(self.listener, self.router, self.connections, stop.clone());
        let stop_jobs = {
            let stop = stop.clone();
            async move {
                stop.cancelled().await;
                tracing::info!("shutting down: no new requests, handing running jobs back");
                runtime.shutdown(grace).await;
            }
        };
        // In-flight requests get the grace period too; a client that keeps one open longer
        // (a slow upload) does not keep the process alive.
        let serve_capped = async move {
            tokio::select! {
                () = serve => {}
                () = async { stop.cancelled().await; tokio::time::sleep(grace).await } => {
                    tracing::warn!(?grace, "requests still open at the end of the grace period");
                }
            }
        };
        tokio::join!(serve_capped, stop_jobs);
        tracing::info!("stopped");
        Ok(())
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    // SIGTERM is caught from this call on, not from the first poll: a container's PID 1 has
    // no default action for it, so one that came during start-up would be lost.
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        let ctrl_c = async {
            if let Err(err) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %err, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let term = async {
            match term {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(err) => {
                    tracing::error!(error = %err, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {}
            () = term => {}
        }
    }
}
