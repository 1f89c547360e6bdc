//! The command-line client: `faena submit`, `get`, `wait`, `cancel`, `list`, `files` and
//! `kinds` talk to a running server over its HTTP API, so that a shell or a script needs no
//! curl.
//!
//! Exit status: 0 when the command did what it was asked (for `wait` and `submit --wait`:
//! the job succeeded), 1 when a waited-for job ended `failed`, `timed_out` or `cancelled`,
//! 2 for usage errors, an unreachable server and error answers (4xx/5xx, printed as
//! `faena: <status> <code>: <detail>`), 130 when Ctrl-C stopped a wait.

mod files;
mod http;
mod output;
mod submit;
mod wait;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand};
use reqwest::Url;

use self::http::{ApiKey, Client, ListQuery, Result};
use self::output::{Output, emit, pretty};
use self::submit::SubmitArgs;
use self::wait::Waited;
use crate::job::{Job, JobId, JobStatus};

const WAIT_HELP: &str = "Exit status: 0 the job succeeded; 1 it failed, timed out or was \
cancelled; 2 usage or connection error, or an error answer from the server. Ctrl-C stops \
waiting (exit status 130); the job goes on: `faena wait ID` waits again.";
const PLAIN_HELP: &str = "Exit status: 0 done; 2 usage or connection error, or an error \
answer from the server.";

/// Where the server is and how to talk to it: taken by every client command.
#[derive(Debug, Args)]
pub struct Connection {
    /// Base URL of the faena server.
    #[arg(long, env = "FAENA_SERVER", default_value = "http://127.0.0.1:8080", value_parser = parse_server)]
    server: Url,
    /// API key, sent as `Authorization: Bearer` (needed when the server has --api-keys).
    #[arg(long, env = "FAENA_API_KEY", hide_env_values = true, value_parser = parse_key)]
    api_key: Option<ApiKey>,
    /// `text` for people, `json` for scripts: one JSON document (the job, the page of jobs,
    /// the file list).
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// The client's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Submit a job; print its id (one line), or with --wait its result.
    #[command(after_help = WAIT_HELP)]
    Submit {
        // Boxed: the largest of the commands by far.
        #[command(flatten)]
        args: Box<SubmitArgs>,
        #[command(flatten)]
        conn: Connection,
    },
    /// Print a job (pretty JSON), whatever its state.
    #[command(after_help = PLAIN_HELP)]
    Get {
        id: JobId,
        #[command(flatten)]
        conn: Connection,
    },
    /// Wait for a job to end, with a progress bar on a terminal; print its result.
    #[command(after_help = WAIT_HELP)]
    Wait {
        id: JobId,
        #[command(flatten)]
        conn: Connection,
    },
    /// Cancel a queued or running job; print its new status.
    #[command(after_help = PLAIN_HELP)]
    Cancel {
        id: JobId,
        #[command(flatten)]
        conn: Connection,
    },
    /// List jobs, newest first, as a table.
    #[command(after_help = PLAIN_HELP)]
    List {
        #[command(flatten)]
        filter: ListArgs,
        #[command(flatten)]
        conn: Connection,
    },
    /// List the kinds the server runs: name, class and what each does (with `--output json`,
    /// their parameters' JSON Schemas too).
    #[command(after_help = PLAIN_HELP)]
    Kinds {
        #[command(flatten)]
        conn: Connection,
    },
    /// List the files a `fetch_urls` job saved, or download them.
    #[command(after_help = PLAIN_HELP)]
    Files {
        id: JobId,
        /// Save every file into this directory (created if missing) and print their paths.
        #[arg(long, value_name = "DIR")]
        download: Option<PathBuf>,
        #[command(flatten)]
        conn: Connection,
    },
}

/// Filters of `faena list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only jobs in this state.
    #[arg(long, value_parser = PossibleValuesParser::new(JobStatus::ALL.map(JobStatus::as_str))
        .try_map(|s| s.parse::<JobStatus>()))]
    status: Option<JobStatus>,
    /// Only jobs of this kind (`faena kinds` lists the server's).
    #[arg(long)]
    kind: Option<String>,
    /// Jobs per page, 1..=1000 (server default: 100).
    #[arg(long)]
    limit: Option<u32>,
    /// Start after this point (the cursor the previous page printed).
    #[arg(long)]
    cursor: Option<String>,
}

/// Runs a client command and gives its exit status.
pub async fn run(command: Command) -> ExitCode {
    match execute(command).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("faena: {err}");
            ExitCode::from(2)
        }
    }
}

async fn execute(command: Command) -> Result<ExitCode> {
    match command {
        Command::Submit { args, conn } => {
            let body = args.body()?;
            let client = connect(&conn)?;
            let job = client
                .submit(&body, args.idempotency_key.as_deref())
                .await?;
            if args.wait {
                return wait_for(&client, job, conn.output).await;
            }
            match conn.output {
                Output::Text => emit(&format!("{}\n", job.id)),
                Output::Json => emit(&pretty(&job)),
            }
        }
        Command::Get { id, conn } => {
            let job = connect(&conn)?.get(id, Default::default()).await?;
            emit(&pretty(&job));
        }
        Command::Wait { id, conn } => {
            let client = connect(&conn)?;
            let job = client.get(id, Default::default()).await?;
            return wait_for(&client, job, conn.output).await;
        }
        Command::Cancel { id, conn } => {
            let job = connect(&conn)?.cancel(id).await?;
            match conn.output {
                Output::Text => emit(&format!("{}\n", job.status)),
                Output::Json => emit(&pretty(&job)),
            }
        }
        Command::List { filter, conn } => list(&connect(&conn)?, &filter, conn.output).await?,
        Command::Kinds { conn } => {
            let kinds = connect(&conn)?.kinds().await?;
            match conn.output {
                Output::Text => emit(&output::kind_table(&kinds)),
                Output::Json => emit(&pretty(&kinds)),
            }
        }
        Command::Files { id, download, conn } => {
            files(&connect(&conn)?, id, download, conn.output).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn connect(conn: &Connection) -> Result<Client> {
    Client::new(conn.server.clone(), conn.api_key.clone())
}

/// Waits for `job` to end, prints it, and gives the exit status its end calls for.
async fn wait_for(client: &Client, job: Job, output: Output) -> Result<ExitCode> {
    match wait::until_final(client, job).await? {
        Waited::Final(job) => {
            output::final_job(&job, output);
            Ok(if job.status == JobStatus::Succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Waited::Interrupted(job) => {
            eprintln!(
                "faena: stopped waiting; job {id} is {} and goes on (`faena wait {id}`)",
                job.status,
                id = job.id
            );
            Ok(ExitCode::from(130))
        }
    }
}

async fn list(client: &Client, filter: &ListArgs, output: Output) -> Result<()> {
    let query = ListQuery {
        status: filter.status,
        kind: filter.kind.as_deref(),
        limit: filter.limit,
        cursor: filter.cursor.as_deref(),
    };
    let page = client.list(&query).await?;
    match output {
        Output::Json => emit(&pretty(&page)),
        Output::Text => {
            emit(&output::job_table(&page.jobs));
            if let Some(cursor) = &page.next_cursor {
                eprintln!("faena: more jobs: --cursor {cursor}");
            }
        }
    }
    Ok(())
}

async fn files(client: &Client, id: JobId, dir: Option<PathBuf>, output: Output) -> Result<()> {
    let listed = client.files(id).await?.files;
    let Some(dir) = dir else {
        match output {
            Output::Json => emit(&pretty(&serde_json::json!({ "files": listed }))),
            Output::Text => emit(&output::file_table(&listed)),
        }
        return Ok(());
    };
    let saved = files::download(client, id, listed, &dir).await?;
    match output {
        Output::Json => emit(&pretty(&serde_json::json!({ "files": saved }))),
        Output::Text => {
            let paths: String = saved
                .iter()
                .map(|s| format!("{}\n", s.path.display()))
                .collect();
            emit(&paths);
        }
    }
    Ok(())
}

/// An `http` or `https` URL with a host.
fn parse_server(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    Ok(url)
}

fn parse_key(text: &str) -> Result<ApiKey, String> {
    if text.is_empty() {
        return Err("the API key is empty".into());
    }
    Ok(ApiKey(text.to_string()))
}
