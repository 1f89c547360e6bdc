//! The browser side of a scenario's world: which chromedriver and Chromium to run (or to skip
//! without), and the chromedriver process shared by the scenarios running at the same time.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak, mpsc};
use std::time::Instant;

use serde_json::Value;

use super::harness::{PATIENCE, POLL};

/// The Chromium switches of every session: headless, in a container, a fixed viewport.
pub const CHROMIUM_ARGS: [&str; 4] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// The chromedriver and Chromium binaries: the environment's overrides or Debian's paths.
pub fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    let pick = |var: &str, default: &str| {
        let path = PathBuf::from(std::env::var_os(var).unwrap_or_else(|| default.into()));
        path.is_file().then_some(path)
    };
    let driver = pick("FAENA_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
    let chromium = pick("FAENA_TEST_CHROMIUM", "/usr/bin/chromium");
    match (driver, chromium) {
        (Some(driver), Some(chromium)) => Some((driver, chromium)),
        _ if std::env::var("FAENA_TEST_REQUIRE_BROWSER").as_deref() == Ok("1") => {
            panic!("FAENA_TEST_REQUIRE_BROWSER=1 but chromium or chromedriver is missing")
        }
        _ => {
            eprintln!("SKIPPED: no chromium/chromedriver");
            None
        }
    }
}

/// A chromedriver process, shared by the scenarios running at the same time and killed
/// when the last of them lets go of it.
pub struct Driver {
    child: Mutex<Child>,
    /// Where it listens: `http://127.0.0.1:PORT`.
    pub url: String,
}

/// The driver of the scenarios running now, if any.
static DRIVER: Mutex<Weak<Driver>> = Mutex::new(Weak::new());

impl Driver {
    /// The running chromedriver, or a new one on a free port once it answers `/status` ready.
    pub async fn shared(binary: &Path, http: &reqwest::Client) -> Arc<Driver> {
        let driver = {
            let mut slot = DRIVER.lock().unwrap();
            if let Some(driver) = slot.upgrade() {
                return driver;
            }
            let driver = Arc::new(Driver::spawn(binary));
            *slot = Arc::downgrade(&driver);
            driver
        };
        let started = Instant::now();
        loop {
            let status = http.get(format!("{}/status", driver.url)).send().await;
            if let Ok(resp) = status
                && let Ok(body) = resp.json::<Value>().await
                && body["value"]["ready"] == true
            {
                return driver;
            }
            assert!(started.elapsed() < PATIENCE, "chromedriver never got ready");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Starts chromedriver on port 0 and reads the port it chose from its first lines.
    fn spawn(binary: &Path) -> Driver {
        let mut child = Command::new(binary)
            .args(["--port=0", "--log-level=WARNING"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", binary.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // Keep draining its output for as long as it lives, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    let _ = tx.send(rest.trim_end_matches('.').trim().to_string());
                }
            }
        });
        let port = rx
            .recv_timeout(PATIENCE)
            .expect("chromedriver says which port it listens on");
        Driver {
            child: Mutex::new(child),
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}
