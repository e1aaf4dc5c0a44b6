//! The binary: parse, run, map the error to an exit code. Nothing else.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use dorameter::cli::{Cli, Context, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let mut ctx = Context {
        env: std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect(),
        cwd: std::env::current_dir().unwrap_or_else(|_| ".".into()),
        stderr_is_terminal: std::io::stderr().is_terminal(),
        stdout: &mut out,
        stderr: &mut err,
    };
    match run(cli, &mut ctx) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = e.exit_code();
            let _ = writeln!(err, "error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                let _ = writeln!(err, "  Caused by: {s}");
                source = s.source();
            }
            if let Some(hint) = e.hint() {
                let _ = writeln!(err, "hint: {hint}");
            }
            ExitCode::from(code)
        }
    }
}
