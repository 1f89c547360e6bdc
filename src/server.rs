//! faena as a library: [`Server::builder`] runs the same service as `faena serve`, with the
//! same settings (flags and `FAENA_*` variables), plus kinds of one's own.
//!
//! ```no_run
//! # use faena::kind::{Ctl, JobClass, Kind, KindError};
//! # #[derive(serde::Deserialize, serde::Serialize, utoipa::ToSchema)] struct P {}
//! # struct MyKind;
//! # impl Kind for MyKind {
//! #     type Params = P;
//! #     type Output = P;
//! #     fn name(&self) -> &str { "my_kind" }
//! #     fn class(&self) -> JobClass { JobClass::Io }
//! #     fn summary(&self) -> &str { "Nothing." }
//! #     async fn run(&self, p: P, _: Ctl) -> Result<P, KindError> { Ok(p) }
//! # }
//! fn main() -> std::process::ExitCode {
//!     faena::Server::builder().kind(MyKind).run()
//! }
//! ```
//!
//! `examples/custom_kind.rs` is a whole program.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::app::{AppError, Application, shutdown_signal};
use crate::config::Config;
use crate::kind::{Kind, Registry, RegistryError};

/// The entry point of a program that embeds faena.
pub struct Server;

impl Server {
    /// A server with the built-in kinds; add yours with [`ServerBuilder::kind`].
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }
}

/// What a server is built with.
#[derive(Default)]
pub struct ServerBuilder {
    kinds: Registry,
    /// The first kind that could not be registered (reported when the server is built).
    error: Option<RegistryError>,
    config: Option<Config>,
}

/// The settings of `faena serve`, as a command line of their own.
#[derive(Debug, Parser)]
#[command(about = "A faena server (the settings of `faena serve`).")]
struct ServeArgs {
    #[command(flatten)]
    config: Config,
}

impl ServerBuilder {
    /// Adds a kind, besides the built-in ones (its name must differ from theirs). `--kinds`
    /// names it like any other.
    pub fn kind<K: Kind>(mut self, kind: K) -> Self {
        if let Err(err) = self.kinds.register(kind)
            && self.error.is_none()
        {
            self.error = Some(err);
        }
        self
    }

    /// Runs with these settings instead of the process's command line and `FAENA_*`
    /// variables.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Builds the server (the store opened, the listener bound), without serving yet.
    pub async fn build(self) -> Result<Application, AppError> {
        if let Some(err) = self.error {
            return Err(err.into());
        }
        let config = self.config.unwrap_or_else(|| ServeArgs::parse().config);
        Application::build_with(&config, self.kinds).await
    }

    /// Serves until SIGTERM or Ctrl-C, as `faena serve` does: logs set up, then the same
    /// orderly shutdown. The settings come from [`ServerBuilder::config`], else from the
    /// process's command line (the flags of `faena serve`; `--help` lists them) and `FAENA_*`
    /// variables. For a program with a Tokio runtime of its own; else see
    /// [`ServerBuilder::run`].
    pub async fn serve(self) -> ExitCode {
        let config = match self.config {
            Some(config) => config,
            None => ServeArgs::parse().config,
        };
        crate::telemetry::init(config.log_format);
        // Listening for SIGTERM from now on: one that comes while the store opens stops the
        // server as soon as it is built.
        let stop = shutdown_signal();
        let builder = Self {
            config: Some(config.clone()),
            ..self
        };
        let app = match builder.build().await {
            Ok(app) => app,
            Err(err) => return fail(&err),
        };
        tracing::info!(
            address = %app.local_addr(),
            database = %crate::store::redact(&config.database_url),
            cpu_threads = config.cpu_threads(),
            "faena listening on http://{}", app.local_addr()
        );
        match app.run_until_stopped(stop).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(&err),
        }
    }

    /// [`ServerBuilder::serve`] on a Tokio runtime of its own, for `fn main`. A kernel still
    /// inside one indivisible step at the end of the shutdown grace period does not hold the
    /// exit.
    pub fn run(self) -> ExitCode {
        let runtime = match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime,
            Err(err) => {
                eprintln!("faena: cannot start the async runtime: {err}");
                return ExitCode::FAILURE;
            }
        };
        let code = runtime.block_on(self.serve());
        runtime.shutdown_timeout(Duration::from_millis(500));
        code
    }
}

/// Logs an error with its causes and gives the failure exit code.
pub(crate) fn fail(err: &dyn std::error::Error) -> ExitCode {
    let msg = crate::error_chain::text(err);
    tracing::error!("{msg}");
    eprintln!("faena: {msg}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Sleep;

    fn config(dir: &tempfile::TempDir) -> Config {
        Config::with_defaults(format!("sqlite://{}/f.db", dir.path().display()))
    }

    #[tokio::test]
    async fn a_kind_named_like_another_or_unknown_to_kinds_is_refused_before_the_store_opens() {
        let dir = tempfile::tempdir().unwrap();
        let twice = Server::builder()
            .config(config(&dir))
            .kind(Sleep::default());
        let err = twice.build().await.err().expect("refused");
        assert!(
            matches!(&err, AppError::Kinds(RegistryError::Duplicate(name)) if name == "sleep"),
            "{err:?}"
        );
        let mut unknown = config(&dir);
        unknown.kinds = vec!["sleep".into(), "nope".into()];
        let err = Server::builder().config(unknown).build().await.err();
        assert!(
            matches!(&err, Some(AppError::Kinds(RegistryError::Unknown { name, .. })) if name == "nope"),
            "{err:?}"
        );
        let mut worker = config(&dir);
        worker.worker_kinds = vec!["resize".into(), "sleep".into()];
        let err = Server::builder().config(worker).build().await.err();
        assert!(
            matches!(&err, Some(AppError::Kinds(RegistryError::Duplicate(name))) if name == "sleep"),
            "a worker kind named like a built-in one: {err:?}"
        );
        let mut badly = config(&dir);
        badly.worker_kinds = vec!["Resize".into()];
        let err = Server::builder().config(badly).build().await.err();
        assert!(
            matches!(&err, Some(AppError::Kinds(RegistryError::InvalidName(_)))),
            "{err:?}"
        );
        let schema = dir.path().join("resize.json");
        std::fs::write(&schema, r#"{"type": "object", "required": 3}"#).unwrap();
        let mut unusable = config(&dir);
        unusable.worker_kinds = vec!["resize".into()];
        unusable.worker_kind_schemas = vec![("resize".into(), schema.clone())];
        let err = Server::builder().config(unusable).build().await.err();
        let said = err.as_ref().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            matches!(&err, Some(AppError::WorkerSchema(_)))
                && said.contains("resize")
                && said.contains("not a valid JSON Schema"),
            "{err:?}"
        );
        let mut stray = config(&dir);
        stray.worker_kinds = vec!["resize".into()];
        stray.worker_kind_schemas = vec![("rezise".into(), schema)];
        let err = Server::builder().config(stray).build().await.err();
        assert!(
            matches!(&err, Some(AppError::NotAWorkerKind(name)) if name == "rezise"),
            "{err:?}"
        );
        assert!(!dir.path().join("f.db").exists(), "no store was opened");
    }
}
