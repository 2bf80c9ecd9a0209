//! Debian's `prometheus` server (scripts/install-test-deps.sh installs it) scraping brokers in a
//! test, with its own data directory and a free loopback port, and its query API.

use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

use super::http::get;
use super::{free_port, write_file};

pub struct Prometheus {
    child: Child,
    pub port: u16,
    dir: TempDir,
}

impl Prometheus {
    /// Scrapes `127.0.0.1:<target_port>` (job `milena`) every second.
    pub fn start(target_port: u16) -> Prometheus {
        Prometheus::start_with_config(&format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: milena\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
        ))
    }

    /// Runs with `config` as its prometheus.yml.
    pub fn start_with_config(config: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = write_file(dir.path(), "prometheus.yml", config);
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("run prometheus (Debian package `prometheus`; scripts/install-test-deps.sh installs it)");
        Prometheus { child, port, dir }
    }

    /// `/api/v1/query?query=...`: the JSON answer (an error answer too: `status` says which);
    /// `None` if nothing JSON came back.
    pub fn query(&self, promql: &str) -> Option<serde_json::Value> {
        let encoded: String = promql
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (_, body) = get(self.port, &format!("/api/v1/query?query={encoded}"));
        // Transfer-Encoding chunked is not expected for these small answers, but tolerate it.
        let json = body
            .find('{')
            .map(|at| &body[at..body.rfind('}').unwrap_or(body.len() - 1) + 1])?;
        serde_json::from_str(json).ok()
    }

    /// What the server logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the first series of a query answer.
pub fn first_value(answer: &serde_json::Value) -> Option<f64> {
    answer["data"]["result"][0]["value"][1]
        .as_str()?
        .parse()
        .ok()
}

/// Whether a query answer succeeded and holds at least one series.
pub fn has_series(answer: &serde_json::Value) -> bool {
    answer["status"] == "success"
        && answer["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
}
