//! `dorameter serve` (SPEC §9): the HTTP front door over the same use cases
//! as the command line. Seed 000's REST API and seed 001's endpoint read
//! through `app::breakdown`, Prometheus scrapes `app::exposition`, webhooks
//! record through `app::deploy` and `app::incident`. GraphQL answers from
//! the same functions as REST.

mod api;
mod auth;
mod cache;
mod graphql;
mod ingest;
mod pagerduty;
mod params;
mod pool;
mod rest;
mod seed;
mod server;

pub use auth::{Limit, Tokens};
pub use pool::PoolSpec;
pub use server::{Answers, DeployDefaults, ServeConfig, SinkConfig};

use std::sync::Mutex;
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::time::Duration;

/// Where the server's log lines go while it runs: the calling thread
/// writes them to its stderr writer (the command line holds that writer,
/// and the server's threads cannot).
static LOG: Mutex<Option<Sender<String>>> = Mutex::new(None);

/// One line of the log (the access log, failures): whole lines, never
/// interleaved.
pub(crate) fn log_line(line: &str) {
    if let Ok(log) = LOG.lock() {
        if let Some(tx) = log.as_ref() {
            let _ = tx.send(line.to_string());
        }
    }
}

/// Serves until SIGTERM or SIGINT. The server runs on its own threads;
/// this one writes its log to `log` until it has stopped.
pub fn run(config: ServeConfig, log: &mut dyn std::io::Write) -> crate::Result<u8> {
    let (tx, rx) = channel();
    if let Ok(mut l) = LOG.lock() {
        *l = Some(tx);
    }
    let server = std::thread::Builder::new()
        .name("serve".into())
        .spawn(move || server::run(config))
        .map_err(|e| crate::Error::internal(format!("failed to start the server: {e}")))?;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                let _ = writeln!(log, "{line}");
                let _ = log.flush();
            }
            Err(RecvTimeoutError::Timeout) if !server.is_finished() => {}
            Err(_) => break,
        }
    }
    if let Ok(mut l) = LOG.lock() {
        *l = None;
    }
    for line in rx.try_iter() {
        let _ = writeln!(log, "{line}");
    }
    let _ = log.flush();
    server
        .join()
        .map_err(|_| crate::Error::internal("the server thread ended abnormally"))?
}
