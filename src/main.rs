//! The binary: parse, run, render the error and map it to an exit code.
//! Nothing else.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use dorameter::cli::{Cli, Context, run};
use dorameter::settings::ArgSources;

fn main() -> ExitCode {
    let mut command = Cli::command();
    let matches = match command.try_get_matches_from_mut(std::env::args_os()) {
        Ok(m) => m,
        Err(e) => {
            // Where a bad value came from an environment variable, say which.
            if let Some(hint) = dorameter::cli::env_source(&command, &e) {
                let _ = e.print();
                let _ = writeln!(std::io::stderr(), "{hint}");
                return ExitCode::from(2);
            }
            e.exit()
        }
    };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
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
        sources: ArgSources::from_matches(&command, &matches),
        stdout: &mut out,
        stderr: &mut err,
    };
    match run(cli, &mut ctx) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let _ = err.write_all(dorameter::error::render(&e, "error").as_bytes());
            ExitCode::from(e.exit_code())
        }
    }
}
