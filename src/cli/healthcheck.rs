//! `faena healthcheck` (alias `faena ready`): asks a running server whether it is ready
//! (`GET /readyz`) and exits 0 if it is, 1 with a one-line reason on stderr if not. It is the
//! container's health check, so the image needs no curl; with no arguments it finds the
//! server through the same `FAENA_LISTEN` that `faena serve` reads.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

/// How long the whole request may take (Docker's own health-check timeout is longer).
const TIMEOUT: Duration = Duration::from_secs(5);

/// Options of `faena healthcheck`.
#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// Address the server listens on, as given to `faena serve`; an unspecified host
    /// (0.0.0.0, [::]) is asked on loopback.
    // Parsed in `base_url`, not by clap: clap's usage errors exit with 2, which Docker
    // reserves in a health check.
    #[arg(long, env = "FAENA_LISTEN", default_value = crate::config::DEFAULT_LISTEN)]
    pub listen: String,
    /// Base URL of the server (e.g. `http://127.0.0.1:8080`); overrides `--listen`.
    #[arg(long)]
    pub url: Option<String>,
}

impl HealthcheckArgs {
    /// The base URL to ask: `--url`, or the one derived from `--listen`.
    pub fn base_url(&self) -> Result<String, String> {
        match &self.url {
            Some(url) => Ok(url.trim_end_matches('/').to_string()),
            None => match self.listen.parse() {
                Ok(listen) => Ok(url_for_listen(listen)),
                Err(err) => Err(format!("--listen {}: {err}", self.listen)),
            },
        }
    }
}

/// The base URL that reaches a server listening on `listen` from the same host: a server
/// bound to every address (0.0.0.0 or [::]) is reached on the loopback of the same family.
pub fn url_for_listen(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, listen.port()))
}

/// Runs the check: `SUCCESS` on a 2xx answer, `FAILURE` (exit code 1) otherwise.
pub async fn run(args: &HealthcheckArgs) -> ExitCode {
    crate::kinds::fetch_urls::client::install_crypto();
    let url = match args.base_url() {
        Ok(url) => url,
        Err(err) => {
            eprintln!("faena: {err}");
            return ExitCode::FAILURE;
        }
    };
    let answer = async {
        // No proxy: a proxy taken from HTTP_PROXY in the environment would be asked about its
        // own loopback, not ours.
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .no_proxy()
            .build()?;
        client.get(format!("{url}/readyz")).send().await
    };
    match answer.await {
        Ok(resp) if resp.status().is_success() => ExitCode::SUCCESS,
        Ok(resp) => {
            eprintln!("faena: {url} is not ready ({})", resp.status());
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("faena: {url}: {}", crate::error_chain::text(&err));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_of_a_listen_address_is_reachable_from_the_same_host() {
        let cases = [
            ("0.0.0.0:8080", "http://127.0.0.1:8080"),
            ("[::]:8080", "http://[::1]:8080"),
            ("127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("[::1]:9000", "http://[::1]:9000"),
            ("10.1.2.3:80", "http://10.1.2.3:80"),
            ("[2001:db8::7]:8443", "http://[2001:db8::7]:8443"),
        ];
        for (listen, url) in cases {
            assert_eq!(url_for_listen(listen.parse().unwrap()), url, "{listen}");
        }
    }

    #[test]
    fn url_overrides_listen_and_a_bad_listen_is_an_error() {
        let args = HealthcheckArgs {
            listen: "0.0.0.0:8080".into(),
            url: Some("http://faena.internal:9000/".into()),
        };
        assert_eq!(args.base_url().unwrap(), "http://faena.internal:9000");
        let args = HealthcheckArgs { url: None, ..args };
        assert_eq!(args.base_url().unwrap(), "http://127.0.0.1:8080");
        let args = HealthcheckArgs {
            listen: "nonsense".into(),
            ..args
        };
        assert!(args.base_url().unwrap_err().contains("nonsense"));
    }
}
